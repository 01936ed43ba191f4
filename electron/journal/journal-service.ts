import { HalfkeyError } from '../../shared/api/result';
import type { EntrySigner } from '../../shared/journal/entry';
import { HEARTBEAT_MS } from '../../shared/journal/entry-types';
import { ChainVerifier, type ChainState, type VerificationFailure, type VerificationReport } from '../../shared/journal/verifier';
import { exportJournalYielding, type ExportProgress } from './export';
import { startHeartbeat, type JournalSession } from './heartbeat';
import type { JournalFilter, JournalHead, JournalStore } from './store';

/** The journal part of app:status. */
export interface JournalStatus {
  readonly seq: number | null;
  readonly hash: string | null;
}

/** Seqs verified per window (and server receipts held in memory at most). */
const VERIFY_WINDOW = 10_000;
/** Failures returned to the app; the count covers all of them. */
const MAX_REPORTED_FAILURES = 100;

interface Attached {
  readonly store: JournalStore;
  readonly signer: EntrySigner;
  readonly session: JournalSession | null;
}

/**
 * The journal as the API and the app see it. openAppServices attaches the open vault's
 * JournalStore and device signer when a vault opens (which starts the heartbeat session) and
 * detaches it when the vault closes (which ends the session cleanly).
 */
export class JournalService {
  private attached: Attached | null = null;
  /** The running (or last finished) export's progress, for the UI to poll; null before any and after a failure. */
  private progress: ExportProgress | null = null;
  private exporting = false;

  /**
   * Starts serving a vault's journal; with `heartbeat` opens a live session, its `session.started`
   * saying who runs it (`client` app by default; a `halfkey` command passes `cli` and its name).
   */
  attach(
    store: JournalStore,
    signer: EntrySigner,
    options: { heartbeat?: boolean; heartbeatMs?: number; session?: Readonly<Record<string, string>> } = {},
  ): void {
    this.detach();
    const session = options.heartbeat
      ? startHeartbeat(store, options.heartbeatMs ?? HEARTBEAT_MS, { data: { ...(options.session ?? { client: 'app' }) } })
      : null;
    this.attached = { store, signer, session };
  }

  /** Stops serving; ends the session with `session.ended` and a checkpoint. */
  detach(reason = 'vault closed'): void {
    const a = this.attached;
    this.attached = null;
    a?.session?.stop(reason);
  }

  status(): JournalStatus {
    const head = this.attached?.store.head() ?? null;
    return { seq: head?.seq ?? null, hash: head?.hash ?? null };
  }

  head(): { vaultId: string | null; seq: number | null; hash: string | null; size: number } {
    const store = this.attached?.store;
    if (!store) return { vaultId: null, seq: null, hash: null, size: 0 };
    const head: JournalHead | null = store.head();
    return { vaultId: store.vaultId(), seq: head?.seq ?? null, hash: head?.hash ?? null, size: head === null ? 0 : head.seq + 1 };
  }

  /** One page of entries matching the filter, oldest first; pass nextAfter back as `after` for the next page. */
  list(filter: JournalFilter & { limit: number }): { entries: ReturnType<JournalStore['query']>; nextAfter: number | null } {
    const store = this.require();
    const entries = store.query(filter);
    return { entries, nextAfter: entries.length === filter.limit ? entries[entries.length - 1]!.seq : null };
  }

  /**
   * Verifies the local journal from genesis, with the server receipts as anchors and, while this
   * app's session is live, the heartbeat freshness of its tail. Works through the journal a window
   * of VERIFY_WINDOW seqs at a time, each with only that window's receipts as anchors, so memory
   * stays flat however long the journal grows.
   */
  verify(now: number = Date.now()): VerificationReport & { receiptsChecked: number } {
    const a = this.attached;
    if (!a) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'No vault is open: open a vault to verify its journal.');
    // A heartbeat that is due (the timer has not run yet after a sleep) is written before the tail is judged.
    a.session?.beat();
    const last = a.store.head()?.seq ?? -1;
    const earlier: VerificationFailure[] = [];
    let receiptsChecked = 0;
    let state: ChainState | undefined;
    let from = 0;
    for (;;) {
      const to = from + VERIFY_WINDOW - 1;
      const anchors = [...a.store.receipts({ from, to })].map((r) => ({ seq: r.seq, hash: r.entryHash }));
      receiptsChecked += anchors.length;
      const verifier = new ChainVerifier({ anchors, ...(state === undefined ? {} : { state }) });
      for (const entry of a.store.read({ from, to })) {
        const failures = verifier.push(entry);
        if (to < last) earlier.push(...failures.slice(0, MAX_REPORTED_FAILURES - earlier.length));
      }
      if (to >= last) {
        const report = verifier.finish(a.session ? { now } : {});
        return { ...report, failures: [...earlier, ...report.failures].slice(0, MAX_REPORTED_FAILURES), receiptsChecked };
      }
      state = verifier.state();
      from = to + 1;
    }
  }

  /**
   * Writes the export bundle (and optional CSV and PDF) of the open vault's journal, one export at
   * a time; its progress is kept for exportProgress() and also passed to `onProgress`.
   */
  async export(options: { out: string; from?: number; to?: number; csv?: string; pdf?: string; onProgress?: (p: ExportProgress) => void }) {
    const a = this.require2();
    if (this.exporting) throw new HalfkeyError('CONFLICT', 'An export is already running: wait for it to finish, then export again.');
    this.exporting = true;
    this.progress = null;
    const report = (p: ExportProgress): void => {
      this.progress = p;
      options.onProgress?.(p);
    };
    try {
      const result = await exportJournalYielding(a.store, {
        out: options.out,
        signer: a.signer,
        ...(options.from === undefined ? {} : { from: options.from }),
        ...(options.to === undefined ? {} : { to: options.to }),
        ...(options.csv === undefined ? {} : { csv: options.csv }),
        // The bundle's own "done" is not the call's while the PDF is still to be written.
        onProgress: (p) => report(p.phase === 'done' && options.pdf !== undefined ? { ...p, phase: 'pdf' } : p),
      });
      const total = result.manifest.head.seq + 1;
      let pdf: string | null = null;
      if (options.pdf !== undefined) {
        const { writeJournalReport } = await import('./report-pdf');
        await writeJournalReport(result.bundlePath, options.pdf, {
          from: options.from ?? 0,
          ...(options.to === undefined ? {} : { to: options.to }),
        });
        pdf = options.pdf;
        report({ phase: 'done', done: total, total });
      }
      return { bundle: result.bundlePath, csv: result.csvPath, pdf, head: result.manifest.head, complete: result.manifest.complete };
    } catch (error) {
      this.progress = null;
      throw error;
    } finally {
      this.exporting = false;
    }
  }

  /** Where the running export is (entries written of the total), or the last one's `done`; null if none. */
  exportProgress(): ExportProgress | null {
    return this.progress;
  }

  private require(): JournalStore {
    return this.require2().store;
  }

  private require2(): Attached {
    if (!this.attached) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'No vault is open: open or create a vault first.');
    return this.attached;
  }
}

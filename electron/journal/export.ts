import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import { ENTRY_TYPES } from '../../shared/journal/entry-types';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  PartHash,
  RosterBuilder,
  custodianLine,
  entryLine,
  headerLine,
  manifestLine,
  receiptLine,
  type BundleManifest,
} from '../../shared/journal/bundle';
import { csvHeader, csvRow } from './csv';
import type { JournalStore, StoredReceipt } from './store';

/** Where the export is, for progress bars: entries written so far of the total to write. */
export interface ExportProgress {
  readonly phase: 'entries' | 'pdf' | 'done';
  readonly done: number;
  readonly total: number;
}

export interface ExportOptions {
  /** The bundle file to write (replaced atomically; never left half-written). */
  readonly out: string;
  /** The device key, to sign the manifest; must be the journal's current device key. */
  readonly signer: EntrySigner;
  readonly from?: number;
  readonly to?: number;
  /** Also write a CSV of the requested range here; its SHA-256 goes into the manifest. */
  readonly csv?: string;
  readonly onProgress?: (progress: ExportProgress) => void;
  readonly now?: () => number;
}

export interface ExportResult {
  readonly manifest: BundleManifest;
  readonly bundlePath: string;
  readonly csvPath: string | null;
}

/** Buffered, atomically renamed output file that also hashes what it writes. */
class AtomicFile {
  private readonly fd: number;
  private buffer: string[] = [];
  private size = 0;
  private readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly path: string) {
    this.fd = openSync(`${path}.partial`, 'w', 0o600);
  }
  write(text: string): void {
    this.buffer.push(text);
    this.size += text.length;
    if (this.size > 1 << 20) this.flush();
  }
  /** Commits the file under its final name; returns its SHA-256. */
  commit(): string {
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(`${this.path}.partial`, this.path);
    return this.hash.digest('hex');
  }
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(`${this.path}.partial`, { force: true });
  }
  private flush(): void {
    if (this.buffer.length === 0) return;
    const chunk = Buffer.from(this.buffer.join(''), 'utf8');
    this.hash.update(chunk);
    this.bytes += chunk.length;
    let at = 0;
    while (at < chunk.length) at += writeSync(this.fd, chunk, at);
    this.buffer = [];
    this.size = 0;
  }
}

/**
 * Writes the export bundle (and optionally the CSV) for a range of the journal. The bundle holds
 * entries from genesis through `to`, so a reviewer can verify the chain and keys from the start;
 * `from` marks the requested range for the CSV and the report. Every export first journals
 * `journal.exported`; a full export (no `to`, or `to` at the head) also a checkpoint, so the bundle
 * ends on a checkpoint and anyone cutting its tail is caught. A bad range is refused before either.
 */
export function exportJournal(store: JournalStore, options: ExportOptions): ExportResult {
  const steps = exportSteps(store, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * exportJournal for the app: the same bundle, but it gives the event loop a turn after every
 * window of entries, so the main process keeps answering (progress polls, status) meanwhile.
 */
export async function exportJournalYielding(store: JournalStore, options: ExportOptions): Promise<ExportResult> {
  const steps = exportSteps(store, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise(setImmediate);
  }
}

/** Entries read per query; the export pauses only between windows, never inside an open SQLite read. */
const EXPORT_WINDOW = 5_000;

/**
 * The export, yielding after each window of entries. Each window's reads finish before it yields:
 * better-sqlite3 refuses every write on the connection while a statement is being iterated, and
 * the app's heartbeat and actions write to the journal while an export waits its turn.
 */
function* exportSteps(store: JournalStore, options: ExportOptions): Generator<void, ExportResult, void> {
  const now = options.now ?? Date.now;
  const from = options.from ?? 0;
  if (!Number.isSafeInteger(from) || from < 0)
    throw new HalfkeyError('INVALID_PAYLOAD', '--from must be a sequence number (0 or more).', { field: 'from' });
  if (options.to !== undefined && (!Number.isSafeInteger(options.to) || options.to < from)) {
    throw new HalfkeyError('INVALID_PAYLOAD', '--to must be a sequence number at or after --from.', { field: 'to' });
  }
  const before = store.head();
  if (before === null) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'The journal is empty: there is nothing to export.');
  if (options.signer.publicKey !== store.currentDeviceKey())
    throw new HalfkeyError('JOURNAL_INVALID', 'The export must be signed by the journal’s current device key.');
  // Checked before anything is written: a range past the head would give a bundle its own verifier rejects.
  if (from > before.seq) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `--from ${from} is after the journal's last entry (seq ${before.seq}): there is nothing to export from there.`,
      { field: 'from' },
    );
  }
  const complete = options.to === undefined || options.to >= before.seq;
  // Every export is journaled, a partial one too (it lands after the bundle's last entry, so only
  // later exports show it). A full export then checkpoints, so the bundle ends on a checkpoint.
  store.append({ type: 'journal.exported', data: { from, to: options.to ?? null } });
  if (complete) store.checkpoint();
  const head = store.head()!;
  const to = complete ? head.seq : options.to!;
  const total = to + 1;

  const bundle = new AtomicFile(options.out);
  const csv = options.csv === undefined ? null : new AtomicFile(options.csv);
  try {
    const parts = { roster: new PartHash(), entries: new PartHash(), receipts: new PartHash() };
    const roster = new RosterBuilder();
    for (const e of store.query({ type: ENTRY_TYPES.custodianEnrolled })) if (e.seq <= to) roster.add(e);
    for (const e of store.query({ type: ENTRY_TYPES.custodianRevoked })) if (e.seq <= to) roster.add(e);
    bundle.write(headerLine());
    for (const member of roster.members()) {
      const text = custodianLine(member);
      parts.roster.add(text);
      bundle.write(text);
    }
    csv?.write(csvHeader());
    let last: SignedEntry | null = null;
    let lastCheckpoint: BundleManifest['lastCheckpoint'] = null;
    for (let start = 0; start <= to; start += EXPORT_WINDOW) {
      const end = Math.min(start + EXPORT_WINDOW - 1, to);
      const receipts = [...store.receipts({ from: start, to: end })];
      let r = 0;
      for (const entry of store.read({ from: start, to: end })) {
        const text = entryLine(entry);
        parts.entries.add(text);
        bundle.write(text);
        for (; r < receipts.length && receipts[r]!.seq <= entry.seq; r++) {
          const receipt = receipts[r]!;
          if (receipt.seq === entry.seq && receipt.device === entry.device) {
            const line = receiptLine(receiptRecord(receipt), receipt.serverKey);
            parts.receipts.add(line);
            bundle.write(line);
          }
        }
        if (entry.type === ENTRY_TYPES.checkpoint) lastCheckpoint = { seq: entry.seq, hash: entry.hash, root: String(entry.data.root) };
        if (csv && entry.seq >= from) csv.write(csvRow(entry));
        last = entry;
      }
      if (last !== null) options.onProgress?.({ phase: 'entries', done: last.seq + 1, total });
      if (end < to) yield;
    }
    if (last === null) throw new HalfkeyError('NOT_FOUND', 'No entries fall in the requested range.');
    const csvHash = csv ? { sha256: csv.commit(), bytes: csv.bytes } : null;
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      vault: last.vault,
      device: last.device,
      signingKey: options.signer.publicKey,
      exportedAt: now(),
      requested: { from, to: options.to ?? null },
      head: { seq: last.seq, hash: last.hash },
      complete,
      lastCheckpoint,
      parts: { roster: parts.roster.digest(), entries: parts.entries.digest(), receipts: parts.receipts.digest(), csv: csvHash },
    };
    bundle.write(manifestLine(manifest, options.signer));
    bundle.commit();
    options.onProgress?.({ phase: 'done', done: total, total });
    return { manifest, bundlePath: options.out, csvPath: options.csv ?? null };
  } catch (error) {
    bundle.abort();
    csv?.abort();
    if (options.csv !== undefined) rmSync(options.csv, { force: true });
    throw error;
  }
}

function receiptRecord(r: StoredReceipt): JsonObject {
  return {
    device: r.device,
    seq: r.seq,
    entryHash: r.entryHash,
    logIndex: r.logIndex,
    treeHead: r.treeHead,
    inclusionProof: [...r.inclusionProof],
  };
}

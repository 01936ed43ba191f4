import { bytesToHex, hexToBytes } from '../journal/hex';
import { foldSubtrees, type Sha256 } from '../journal/merkle';
import { ENTRY_TYPES, HEARTBEAT_GRACE } from '../journal/entry-types';
import { rangeContext, type ChainState } from '../journal/verifier';
import { AlignedFrontier } from './audit-paths';
import type { ExportRangeDevice, ExportRangeResult, PieceText } from './export-range';
import type { TreeHead } from './receipt';
import { SERVER_EXPORT_FORMAT, type Pending, type ServerExportDevice, type ServerExportReport } from './server-export';

/**
 * The reading thread's side of verifying the org-wide export by ranges (export-range.ts): ranges
 * are joined in file order, and a range joins only when what it assumed holds, so a clean export
 * gets exactly the one-thread verifier's report, and anything else is verified by that verifier:
 *
 * - the log: the range starts at the next log index; its pieces extend the whole tree, and every
 *   hash its audit paths named for a node outside it must be that node of the tree (a node before
 *   the range is on the tree's right edge when the range joins; later ones are settled when the
 *   tree completes them, those cut short by the size when the file ends); at the end the tree has
 *   the signed size and root;
 * - each device: the range's run starts where the device's chain ends (seq, prev, frontier size),
 *   from the same key and role tables, not earlier in time, within the heartbeat and checkpoint
 *   spacing the state allows; each checkpoint's root is the root of the device's leaves before it
 *   (those before the range joined with the range's); a run from a genesis joins only for a
 *   device not seen before;
 * - device signatures no later checkpoint covers are verified at the end (`pendingSignatures`).
 *
 * `join` answers `retry` when a device's assumption did not hold (the range must be verified again
 * with `exactStates`), `fault` when the file is to be verified in one piece.
 */

const MAX_PENDING = 65_536;

interface JoinedDevice {
  readonly vault: string;
  readonly device: string;
  readonly firstLine: number;
  state: ChainState;
  context: string;
  readonly leaves: AlignedFrontier;
  pending: Pending[];
}

export type JoinOutcome = 'joined' | 'retry' | 'fault';

export class ExportJoin {
  private readonly tree: AlignedFrontier;
  /** Claims on nodes of the tree not completed yet, by `${first}:${end}`. */
  private readonly claims = new Map<string, string>();
  private readonly devices = new Map<string, JoinedDevice>();
  private nextIndex = 0;
  private faulted = false;

  constructor(
    private readonly serverKey: string,
    private readonly head: TreeHead,
    private readonly sha256: Sha256,
  ) {
    this.tree = new AlignedFrontier(0, sha256);
  }

  /** The device states as they stand, for the next ranges to start from (with `exact`: a retry's). */
  states(): Record<string, ChainState> {
    const out: Record<string, ChainState> = {};
    for (const [key, d] of this.devices) out[key] = d.state;
    return out;
  }

  join(r: ExportRangeResult): JoinOutcome {
    if (this.faulted) return 'fault';
    if (r.firstIndex !== this.nextIndex || r.count < 1 || this.nextIndex + r.count > this.head.size) return this.fault();
    // Devices first: a range that must be verified again leaves nothing joined.
    const runs: [ExportRangeDevice, JoinedDevice | undefined][] = [];
    for (const run of r.devices) {
      const key = `${run.vault}\n${run.device}`;
      const joined = this.devices.get(key);
      if (!this.fits(run, joined)) return 'retry';
      runs.push([run, joined]);
    }
    // The log: claims on nodes already on the tree's edge now, the rest as the pieces complete them.
    const edge = new Map(this.tree.pieces().map((p) => [`${p.first}:${p.first + p.width}`, bytesToHex(p.hash)]));
    for (const c of r.claims) {
      const key = `${c.first}:${c.end}`;
      if (c.end <= this.nextIndex) {
        if (edge.get(key) !== c.value) return this.fault();
      } else {
        const known = this.claims.get(key);
        if (known !== undefined && known !== c.value) return this.fault();
        this.claims.set(key, c.value);
      }
    }
    for (const [first, width, hash] of r.pieces)
      this.tree.pushPiece(first, width, hexToBytes(hash), (at, w, h) => {
        const key = `${at}:${at + w}`;
        const claimed = this.claims.get(key);
        if (claimed === undefined) return;
        this.claims.delete(key);
        if (claimed !== bytesToHex(h)) this.faulted = true;
      });
    if (this.faulted || this.tree.size !== this.nextIndex + r.count) return this.fault();
    this.nextIndex += r.count;
    for (const [run, joined] of runs) if (!this.apply(run, joined)) return this.fault();
    return 'joined';
  }

  /** Whether a device's run starts where its chain ends, on what it assumed, and its checkpoints' roots come out right. */
  private fits(run: ExportRangeDevice, d: JoinedDevice | undefined): boolean {
    if (run.context === null) {
      if (d !== undefined) return false;
      return run.roots.every((root) => this.rootOf(new AlignedFrontier(0, this.sha256), root.pieces) === root.root);
    }
    if (d === undefined) return false;
    const s = d.state;
    if (run.context !== d.context || s.headHash !== run.first.prev || s.nextSeq !== run.first.seq || d.leaves.size !== run.first.seq)
      return false;
    if (s.lastTime === null || s.lastTime > run.first.time) return false;
    const resumes = run.first.type === ENTRY_TYPES.sessionResumed || run.first.type === ENTRY_TYPES.sessionStarted;
    if (s.inSession && !resumes && s.heartbeatMs !== null && run.first.time - s.lastTime > s.heartbeatMs * HEARTBEAT_GRACE) return false;
    if (s.checkpointEvery !== null && s.sinceCheckpoint + run.beforeCheckpoint > s.checkpointEvery) return false;
    return run.roots.every((root) => this.rootOf(d.leaves.copy(), root.pieces) === root.root);
  }

  private rootOf(before: AlignedFrontier, pieces: readonly PieceText[]): string {
    for (const [first, width, hash] of pieces) before.pushPiece(first, width, hexToBytes(hash));
    return bytesToHex(before.root());
  }

  private apply(run: ExportRangeDevice, d: JoinedDevice | undefined): boolean {
    const key = `${run.vault}\n${run.device}`;
    const e = run.end;
    if (d === undefined) {
      d = {
        vault: run.vault,
        device: run.device,
        firstLine: run.firstLine,
        state: e,
        context: '',
        leaves: new AlignedFrontier(0, this.sha256),
        pending: [],
      };
      this.devices.set(key, d);
    } else {
      const s = d.state;
      d.state = {
        ...e,
        firstSeq: s.firstSeq,
        sinceCheckpoint: run.hasCheckpoint ? e.sinceCheckpoint : s.sinceCheckpoint + (e.sinceCheckpoint - run.startSince),
        inSession: run.firstSession === null ? s.inSession : e.inSession,
        entriesVerified: s.entriesVerified + run.entries,
        lastCheckpoint: run.hasCheckpoint ? e.lastCheckpoint : s.lastCheckpoint,
      };
    }
    if (run.context === null) d.state = { ...d.state, entriesVerified: run.entries };
    d.context = rangeContext(d.state);
    for (const [first, width, hash] of run.pieces) d.leaves.pushPiece(first, width, hexToBytes(hash));
    // A checkpoint in the run covers every entry of the device before it.
    if (run.hasCheckpoint) d.pending = [...run.open];
    else for (const p of run.open) d.pending.push(p);
    return d.pending.length <= MAX_PENDING;
  }

  private fault(): 'fault' {
    this.faulted = true;
    return 'fault';
  }

  /** The entries whose device signature no checkpoint covers: each must verify for the report to stand. */
  pendingSignatures(): Pending[] {
    return [...this.devices.values()].flatMap((d) => d.pending);
  }

  /**
   * The report, when the whole log joined, has the signed size and root and every claim came out
   * right; null otherwise. The pending signatures must have been verified (the caller's part).
   */
  finish(): ServerExportReport | null {
    const head = this.head;
    if (this.faulted || this.nextIndex !== head.size || this.tree.size !== head.size || head.size === 0) return null;
    if (bytesToHex(this.tree.root()) !== head.root) return null;
    // Claims on nodes cut short by the size: the root of the tree's pieces from their first leaf on.
    const pieces = this.tree.pieces();
    for (const [key, value] of this.claims) {
      const [first, end] = key.split(':').map(Number) as [number, number];
      const under = pieces.filter((p) => p.first >= first);
      if (end !== head.size || under.length === 0 || under[0]!.first !== first) return null;
      if (
        bytesToHex(
          foldSubtrees(
            under.map((p) => p.hash),
            this.sha256,
          ),
        ) !== value
      )
        return null;
    }
    const devices: ServerExportDevice[] = [...this.devices.values()]
      .sort((a, b) => a.firstLine - b.firstLine)
      .map((d) => ({
        vault: d.vault,
        device: d.device,
        ok: true,
        entries: d.state.entriesVerified,
        head: d.state.headHash === null ? null : { seq: d.state.nextSeq - 1, hash: d.state.headHash },
        failureCount: 0,
        failures: [],
      }));
    return {
      format: SERVER_EXPORT_FORMAT,
      ok: true,
      serverKey: this.serverKey,
      treeHead: head,
      entries: this.nextIndex,
      devices,
      reviews: [],
      failureCount: 0,
      failures: [],
    };
  }
}

import { bytesToHex } from '../journal/hex';
import { leafHash } from '../journal/merkle';
import { integerEnd, type readCanonicalEntryLine } from '../journal/entry-line';
import { ENTRY_TYPES } from '../journal/entry-types';
import type { JournalPrimitives } from '../journal/primitives';
import { rangeContext, rangeStartState, type ChainState } from '../journal/verifier';
import { AlignedFrontier, StreamedAuditPaths, type Piece } from './audit-paths';
import type { TreeHead } from './receipt';
import { ServerExportVerifier, type DeviceChain, type PathRef, type Pending } from './server-export';

/**
 * Verifying a range of the org-wide export on its own (a worker thread): a run of consecutive
 * entry lines, read, checked and hashed as the one-thread verifier reads them
 * (ServerExportVerifier's fast path: the receipt's fixed layout under the export's own head, the
 * canonical entry line, its chain), from an assumed state. What it could not settle inside the
 * range is handed back for the join on the reading thread (shared/sync/export-join.ts):
 *
 * - the log: the range's leaves as the perfect subtrees of the whole tree they form (pieces), and
 *   each hash its lines' audit paths name for a node outside the range (claims);
 * - each device: the chain verified from the state it was given (only the device's key and role
 *   tables, and a first entry that links, unless the range is `exact`), what it assumed, its end
 *   state, each checkpoint's claimed root with the device's own leaves before it in the range,
 *   and the entries after its last checkpoint, whose device signatures no checkpoint here covers.
 *
 * Null when any line is not such a line or anything fails: the join then verifies the range again
 * with the exact states (a failure there sends the whole file to the one-thread verifier).
 */

/** A perfect subtree as sent between threads: [first leaf, width, hash hex]. */
export type PieceText = readonly [first: number, width: number, hash: string];

export interface ExportRangeTask {
  readonly head: TreeHead;
  /** Canonical JSON of the head: every receipt must carry exactly this. */
  readonly headJson: string;
  /** The device states known when the range was sent, by `${vault}\n${device}`. */
  readonly states: Readonly<Record<string, ChainState>>;
  /** The states are those right before the range's first line (a retry), not only their key tables. */
  readonly exact: boolean;
}

/** One device's entries in a range. */
export interface ExportRangeDevice {
  readonly vault: string;
  readonly device: string;
  readonly firstLine: number;
  readonly first: { readonly seq: number; readonly prev: string; readonly time: number; readonly type: string };
  /** rangeContext() of the state it started from; null: it started at the device's genesis. */
  readonly context: string | null;
  /** sinceCheckpoint of the state it started from (0 unless exact). */
  readonly startSince: number;
  readonly end: ChainState;
  readonly entries: number;
  /** Entries before its first checkpoint (all of them when it has none). */
  readonly beforeCheckpoint: number;
  readonly hasCheckpoint: boolean;
  /** Type of its first session.started or session.ended, or null when it has neither. */
  readonly firstSession: string | null;
  /** Each checkpoint's claimed root, with the device's leaves in the range before it. */
  readonly roots: readonly { readonly seq: number; readonly root: string; readonly pieces: readonly PieceText[] }[];
  /** The device's leaves in the range. */
  readonly pieces: readonly PieceText[];
  /** Entries after its last checkpoint in the range whose device signature is not verified yet. */
  readonly open: readonly Pending[];
}

export interface ExportRangeResult {
  /** Log index of the range's first line, and its lines. */
  readonly firstIndex: number;
  readonly count: number;
  readonly pieces: readonly PieceText[];
  /** Hashes its audit paths name for nodes it does not hold, leaves [first, end) (one per node). */
  readonly claims: readonly { readonly first: number; readonly end: number; readonly value: string }[];
  readonly devices: readonly ExportRangeDevice[];
}

/** Why a range gave no result: `review` (a review line, which only the reading thread verifies) or `failed`. */
export type ExportRangeOutcome = ExportRangeResult | 'review' | 'failed';

export const pieceText = (p: Piece): PieceText => [p.first, p.width, bytesToHex(p.hash)];

interface RangeDevice {
  readonly chain: DeviceChain;
  readonly run: {
    -readonly [K in keyof ExportRangeDevice]: ExportRangeDevice[K];
  };
  readonly leaves: AlignedFrontier;
  readonly roots: { seq: number; root: string; pieces: PieceText[] }[];
}

/** The log index of an export entry line in the server's layout (`,"logIndex":N,"seq":`), or -1. */
function logIndexOf(text: string): number {
  const at = text.lastIndexOf(',"logIndex":');
  if (at < 0) return -1;
  const end = integerEnd(text, at + 12);
  if (end < 0 || !text.startsWith(',"seq":', end)) return -1;
  const index = Number(text.slice(at + 12, end));
  return Number.isSafeInteger(index) ? index : -1;
}

/** Verifies one range; see the file comment. Call `await sodiumReady()` first. */
export class ExportRangeVerifier extends ServerExportVerifier {
  /** Devices by device key (a device id names one vault's device; another vault under the same id fails the range). */
  private readonly devices = new Map<string, RangeDevice>();
  /** The device of the line being read, and its leaf hash (the same leaf in the log and in the device's own tree). */
  private current: RangeDevice | null = null;
  private leaf: Uint8Array | null = null;
  private readonly claims = new Map<string, { first: number; end: number; value: string }>();
  private conflict = false;
  private readonly lastClaims: ({ readonly first: number; readonly end: number; readonly value: string } | undefined)[] = [];

  constructor(
    private readonly task: ExportRangeTask,
    primitives: JournalPrimitives,
  ) {
    super('', primitives);
    this.head = task.head;
    this.headJson = task.headJson;
    this.sawHeader = true;
  }

  /** Verifies the lines of `text` (separated by line feeds, none after the last). */
  verify(text: string): ExportRangeOutcome {
    try {
      return this.lines(text);
    } catch {
      // Anything unexpected (libsodium not loaded, a shape the fast path missed) is the one-thread verifier's to report.
      return 'failed';
    }
  }

  private lines(text: string): ExportRangeOutcome {
    const firstIndex = logIndexOf(text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n')));
    if (firstIndex < 0 || text.length === 0) return text.startsWith('{"kind":"review",') ? 'review' : 'failed';
    this.nextIndex = firstIndex;
    this.frontier = new AlignedFrontier(firstIndex, this.sha256);
    const paths = new StreamedAuditPaths<PathRef>(this.task.head.size, (ref, count, lastLine) => this.wrongPath(ref, count, lastLine), {
      start: firstIndex,
      outside: (first, end, value) => this.claim(first, end, value),
    });
    this.paths = paths;
    for (let from = 0; from <= text.length;) {
      let to = text.indexOf('\n', from);
      if (to < 0) to = text.length;
      const line = text.slice(from, to);
      from = to + 1;
      // Lines follow the header, one per log index: the line number follows from the index.
      this.lineNo = this.nextIndex + 2;
      if (!this.rangeLine(line)) return line.startsWith('{"kind":"review",') ? 'review' : 'failed';
      if (this.failureCount > 0 || this.wrongPaths.length > 0 || this.conflict) return 'failed';
    }
    paths.release();
    if (this.conflict || this.wrongPaths.length > 0) return 'failed';
    const devices: ExportRangeDevice[] = [];
    for (const d of this.devices.values()) {
      const { verifier, pending } = d.chain;
      if (verifier.state().failureCount > 0) return 'failed';
      const end = verifier.state();
      devices.push({
        ...d.run,
        end: { ...end, frontier: { size: 0, nodes: [] } },
        roots: d.roots,
        pieces: d.leaves.pieces().map(pieceText),
        open: pending,
      });
    }
    return {
      firstIndex,
      count: this.nextIndex - firstIndex,
      pieces: (this.frontier as AlignedFrontier).pieces().map(pieceText),
      claims: [...this.claims.values()],
      devices,
    };
  }

  /** The log's leaf, hashed once: the device's own tree has the same leaf (SHA-256 of 0x00 and the entry hash). */
  protected override pushLeaf(entryHash: Uint8Array): void {
    const frontier = this.frontier as AlignedFrontier;
    this.leaf = leafHash(entryHash, this.sha256);
    frontier.pushPiece(frontier.size, 1, this.leaf, this.paths?.observe);
  }

  private claim(first: number, end: number, value: string): void {
    // Lines next to each other name the same nodes above them: the last claim per width answers most without a key.
    const k = 31 - Math.clz32(end - first);
    const last = this.lastClaims[k];
    if (last !== undefined && last.first === first && last.end === end) {
      if (last.value !== value) this.conflict = true;
      return;
    }
    const key = `${first}:${end}`;
    const known = this.claims.get(key);
    if (known === undefined) {
      const claim = { first, end, value };
      this.claims.set(key, claim);
      this.lastClaims[k] = claim;
    } else {
      if (known.value !== value) this.conflict = true;
      this.lastClaims[k] = known;
    }
  }

  /** One entry line by the fast path's rules; false when it is not such a line. */
  private rangeLine(text: string): boolean {
    const fast = this.readFastLine(text);
    if (fast === null) return false;
    const { receipt, read } = fast;
    const device = this.deviceOf(read.entry);
    if (device === null) return false;
    this.current = device;
    this.logLine(text, receipt.count, receipt.seq, receipt.hash, device.chain);
    this.pushReadEntry(device.chain, read);
    return true;
  }

  /** The device's run in this range, started from the state the task gives for it; null when it has none to start from. */
  private deviceOf(entry: { vault: string; device: string; seq: number; prev: string; time: number; type: string }): RangeDevice | null {
    const known = this.devices.get(entry.device);
    if (known !== undefined) return known.run.vault === entry.vault ? known : null;
    const key = `${entry.vault}\n${entry.device}`;
    const state = Object.hasOwn(this.task.states, key) ? this.task.states[key]! : null;
    // Without a state, only a run that starts at the genesis can be verified (from nothing, as one thread does).
    if (state === null && entry.seq !== 0) return null;
    const first = { seq: entry.seq, prev: entry.prev, time: entry.time, type: entry.type };
    const exact = state !== null && this.task.exact;
    const start = state === null ? undefined : exact ? { ...state, frontier: { size: 0, nodes: [] } } : rangeStartState(state, first);
    // leafOffset: each checkpoint's root is the join's, which knows the leaves before the range; the
    // range's own leaves are `leaves` below (the log's leaf hashes), so the chain verifier only counts them.
    const leafOffset = exact ? state.nextSeq : entry.seq;
    const chain = this.chainOf(entry.vault, entry.device, {
      leafOffset,
      leavesKeptByCaller: true,
      ...(start === undefined ? {} : { state: start }),
    });
    const device: RangeDevice = {
      chain,
      run: {
        vault: entry.vault,
        device: entry.device,
        firstLine: this.lineNo,
        first,
        context: state === null ? null : rangeContext(state),
        startSince: exact ? state.sinceCheckpoint : 0,
        end: chain.verifier.state(),
        entries: 0,
        beforeCheckpoint: 0,
        hasCheckpoint: false,
        firstSession: null,
        roots: [],
        pieces: [],
        open: [],
      },
      leaves: new AlignedFrontier(leafOffset, this.sha256),
      roots: [],
    };
    this.devices.set(entry.device, device);
    return device;
  }

  protected override pushReadEntry(chain: DeviceChain, read: NonNullable<ReturnType<typeof readCanonicalEntryLine>>): void {
    const device = this.current!;
    const { entry } = read;
    const run = device.run;
    if (entry.type === ENTRY_TYPES.checkpoint) {
      // Its root covers the device's entries before it: those in this range are the pieces so far.
      const root = (entry.data as { root?: unknown }).root;
      device.roots.push({ seq: entry.seq, root: typeof root === 'string' ? root : '', pieces: device.leaves.pieces().map(pieceText) });
    }
    super.pushReadEntry(chain, read);
    device.leaves.pushPiece(device.leaves.size, 1, this.leaf!);
    run.entries += 1;
    if (entry.type === ENTRY_TYPES.checkpoint) run.hasCheckpoint = true;
    else if (!run.hasCheckpoint) run.beforeCheckpoint += 1;
    if (run.firstSession === null && (entry.type === ENTRY_TYPES.sessionStarted || entry.type === ENTRY_TYPES.sessionEnded))
      run.firstSession = entry.type;
  }
}

import { canonicalize } from './canonical';
import { ENTRY_LINE_START, RECEIPT_LINE_START, isEntryRecord, type BundleRange } from './bundle';
import { canonicalEntryTexts, type EntrySignature, type SignedEntry } from './entry';
import { EntryLineReader } from './entry-line';
import { ENTRY_TYPES } from './entry-types';
import { isWellFormedEntry } from './entry-shape';
import { MAX_LINE_DEPTH, textDepthExceeds } from './limits';
import type { JournalPrimitives } from './primitives';
import { ALWAYS_FULL_TYPES, ChainVerifier, rangeContext, rangeStartState, type ChainState, type VerifyMode } from './verifier';

/**
 * Verifying a bundle by ranges (docs/journal-format.md, section 10.3): a run of entry lines is
 * verified on its own, anywhere (a worker thread), from an assumed state — the key and role
 * tables the verifier last knew, and a first entry that links — and the bundle verifier joins it
 * (BundleVerifier.absorbRange, ChainVerifier.joinRange) only when what it assumed holds: the
 * chain links, the times and spacing fit, the checkpoint roots it could not finish come out
 * right over the leaves before it, and nothing failed. Otherwise the lines are verified again one
 * by one in order, so the failures reported are always exactly those of the sequential verifier.
 *
 * The range's first leaf must be aligned to a power of two at least as large as the range
 * (rangeLimit), so its leaves form perfect subtrees of the whole tree and only the O(log n)
 * frontier is joined.
 */

/** Entry lines per range at most: the main thread joins one range per this many entries. */
export const RANGE_ENTRIES = 1024;
/** The smallest range: a range starts only at a leaf offset that is a multiple of this. */
export const MIN_RANGE_ENTRIES = 256;

/** How many entry lines a range starting at leaf `offset` may hold (0: none may start there). */
export function rangeLimit(offset: number): number {
  if (offset <= 0 || offset % MIN_RANGE_ENTRIES !== 0) return 0;
  let limit = MIN_RANGE_ENTRIES;
  while (limit < RANGE_ENTRIES && offset % (limit * 2) === 0) limit *= 2;
  return limit;
}

export interface RangeTask {
  /**
   * The range's lines in order, read once: a worker decodes each from the file's bytes as the
   * loop reaches it, so no line outlives its own check (and the garbage collector has little to move).
   */
  readonly lines: Iterable<string>;
  /** Leaves before the range, as the dispatcher expects them. */
  readonly leafOffset: number;
  /** The verifier's state when the range was sent (its key and role tables are what is assumed). */
  readonly context: ChainState;
  readonly mode: VerifyMode;
}

/** What a range verifier needs besides the chain primitives: SHA-256 of a text, as hex. */
export interface RangePrimitives extends Pick<JournalPrimitives, 'sha256'> {
  readonly sha256TextHex: (text: string) => string;
  readonly verifyEntrySignature: (hashHex: string, signature: Partial<EntrySignature> | null) => boolean;
}

/**
 * Verifies one range of bundle lines (entry and receipt lines only) on its own; null when any
 * line is not a canonical entry or receipt record, any check fails, or anything needs more than
 * the range has (then the bundle verifier verifies these lines in order itself).
 */
export function verifyRange(task: RangeTask, primitives: RangePrimitives): BundleRange | null {
  try {
    return verifyRangeLines(task, primitives);
  } catch {
    // A two-person entry needs libsodium for its proposal signature, which a worker does not
    // load; a line that is not UTF-8 cannot be decoded; anything unexpected is the sequential
    // verifier's to report.
    return null;
  }
}

function verifyRangeLines(task: RangeTask, primitives: RangePrimitives): BundleRange | null {
  const { lines, mode } = task;
  let chain: ChainVerifier | null = null;
  let first: { seq: number; prev: string; time: number; type: string } | null = null;
  let beforeCheckpoint = 0;
  let hasCheckpoint = false;
  let firstSession: string | null = null;
  let last: { seq: number; hash: string } | null = null;
  let lastCheckpoint: BundleRange['lastCheckpoint'] = null;
  const before: { line: number; seq: number; hash: string }[] = [];
  const roster: SignedEntry[] = [];
  const reader = new EntryLineReader(task.context);
  let i = -1;
  for (const text of lines) {
    i += 1;
    if (text.startsWith(RECEIPT_LINE_START)) {
      if (textDepthExceeds(text, MAX_LINE_DEPTH)) return null;
      const json = JSON.parse(text) as Record<string, unknown>;
      if (last === null || json.kind !== 'receipt' || typeof json.serverKey !== 'string' || Object.keys(json).length !== 3) return null;
      if (canonicalize(json) !== text) return null;
      before.push({ line: i, seq: last.seq, hash: last.hash });
      continue;
    }
    if (!text.startsWith(ENTRY_LINE_START)) return null;
    const read = readEntryLine(reader, text);
    if (read === null) return null;
    const e = read.entry;
    if (chain === null) {
      first = { seq: e.seq, prev: e.prev, time: e.time, type: e.type };
      chain = new ChainVerifier({
        mode,
        leafOffset: task.leafOffset,
        primitives: { sha256: primitives.sha256, textDigest: unavailable, verifyEntrySignature: primitives.verifyEntrySignature },
        state: rangeStartState(task.context, first),
      });
    }
    const holdDevice = mode === 'anchored' && !ALWAYS_FULL_TYPES.has(e.type);
    const signatures = e.sigs.map((sig, k) => (k === 0 && holdDevice ? null : primitives.verifyEntrySignature(e.hash, sig)));
    const failures = chain.push(e, {
      hash: primitives.sha256TextHex(read.body),
      signatures,
      canonical: true,
      shallow: true,
      wellFormed: true,
    });
    if (failures.length > 0) return null;
    if (e.type === ENTRY_TYPES.checkpoint) {
      hasCheckpoint = true;
      lastCheckpoint = { seq: e.seq, hash: e.hash, root: e.data.root };
    } else if (!hasCheckpoint) beforeCheckpoint += 1;
    if (firstSession === null && (e.type === ENTRY_TYPES.sessionStarted || e.type === ENTRY_TYPES.sessionEnded)) firstSession = e.type;
    if (e.type === ENTRY_TYPES.custodianEnrolled || e.type === ENTRY_TYPES.custodianRevoked) roster.push(e);
    last = { seq: e.seq, hash: e.hash };
  }
  if (chain === null || first === null || last === null) return null;
  const open = chain.openRange();
  // A range that grew past MAX_ANCHORED_RANGE was verified in full inside: any failure there counts too.
  if (!open.clean || chain.state().failureCount > 0) return null;
  return {
    chain: {
      mode,
      leafOffset: task.leafOffset,
      context: rangeContext(task.context),
      first,
      beforeCheckpoint,
      hasCheckpoint,
      firstSession,
      roots: chain.deferredRoots,
      end: chain.state(),
      open: open.held,
      anchored: chain.anchoredEntries(),
    },
    before,
    last,
    lastCheckpoint,
    roster,
  };
}

/**
 * An entry line that is the canonical JSON of a well-formed entry record, and the body to hash;
 * null for any other line. The fast reader first; lines it does not take (an actor written with an
 * escape, for one) are parsed and re-encoded.
 */
function readEntryLine(reader: EntryLineReader, text: string): { entry: SignedEntry; body: string } | null {
  // The reader parses nothing deeper than the limit; the general path checks the line's depth first.
  const fast = reader.read(text);
  if (fast !== null) return fast;
  if (textDepthExceeds(text, MAX_LINE_DEPTH)) return null;
  const json = JSON.parse(text) as unknown;
  if (!isEntryRecord(json) || !isWellFormedEntry(json.entry)) return null;
  const texts = canonicalEntryTexts(json.entry);
  return texts.line === text ? { entry: json.entry, body: texts.body } : null;
}

/** A range verifier hashes no bundle parts: the main thread does. */
const unavailable = (): never => {
  throw new Error('a range verifier computes no part hashes');
};

import { sodiumNow, type Sodium } from '../sodium';
import { canonicalize, hasLoneSurrogate } from './canonical';
import { approvalProblem, TWO_PERSON_TYPES, type Roster } from './dual-control';
import { GENESIS_PREV, canonicalBodyText, type EntrySignature, type SignedEntry } from './entry';
import { ENTRY_TYPES, HEARTBEAT_GRACE, HEX32 } from './entry-types';
import { entrySchema, isWellFormedEntry } from './entry-shape';
import { MAX_ANCHORED_RANGE, MAX_ENTRY_DEPTH, valueDepthExceeds } from './limits';
import { MerkleFrontier, nodeHash } from './merkle';
import { bytesToHex, hexToBytes } from './hex';
import { sodiumPrimitives, type JournalPrimitives } from './primitives';

/** Why an entry or a journal failed verification (docs/journal-format.md, "Failure codes"). */
export type FailureCode =
  | 'MALFORMED_ENTRY'
  | 'BAD_GENESIS'
  | 'WRONG_VAULT'
  | 'WRONG_DEVICE'
  | 'HASH_MISMATCH'
  | 'BROKEN_LINK'
  | 'SEQUENCE_GAP'
  | 'OUT_OF_ORDER'
  | 'DUPLICATE_ENTRY'
  | 'FORK'
  | 'TIME_BACKWARDS'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_KEY'
  | 'REVOKED_KEY'
  | 'MISSING_DEVICE_SIGNATURE'
  | 'MISSING_ACTOR_SIGNATURE'
  | 'MISSING_APPROVAL'
  | 'MISSING_CHECKPOINT'
  | 'CHECKPOINT_ROOT_MISMATCH'
  | 'TRUNCATED_TAIL'
  | 'HEAD_MISMATCH'
  | 'EMPTY_JOURNAL'
  | 'BAD_BUNDLE'
  | 'BAD_MANIFEST_SIGNATURE'
  | 'PART_HASH_MISMATCH'
  | 'ROSTER_MISMATCH'
  | 'MANIFEST_MISMATCH'
  | 'BAD_RECEIPT';

export const FAILURE_CODES: readonly FailureCode[] = [
  'MALFORMED_ENTRY',
  'BAD_GENESIS',
  'WRONG_VAULT',
  'WRONG_DEVICE',
  'HASH_MISMATCH',
  'BROKEN_LINK',
  'SEQUENCE_GAP',
  'OUT_OF_ORDER',
  'DUPLICATE_ENTRY',
  'FORK',
  'TIME_BACKWARDS',
  'BAD_SIGNATURE',
  'UNKNOWN_KEY',
  'REVOKED_KEY',
  'MISSING_DEVICE_SIGNATURE',
  'MISSING_ACTOR_SIGNATURE',
  'MISSING_APPROVAL',
  'MISSING_CHECKPOINT',
  'CHECKPOINT_ROOT_MISMATCH',
  'TRUNCATED_TAIL',
  'HEAD_MISMATCH',
  'EMPTY_JOURNAL',
  'BAD_BUNDLE',
  'BAD_MANIFEST_SIGNATURE',
  'PART_HASH_MISMATCH',
  'ROSTER_MISMATCH',
  'MANIFEST_MISMATCH',
  'BAD_RECEIPT',
];

/** One problem found, at an entry (seq) or at the journal as a whole (null). */
export interface VerificationFailure {
  readonly seq: number | null;
  readonly code: FailureCode;
  readonly reason: string;
}

/** A custodian signing key as introduced by the journal. */
export interface KnownKey {
  readonly custodian: string;
  /** Seq of the revoking entry, or null while valid. */
  readonly revokedAt: number | null;
}

/**
 * Everything the verifier remembers between entries: JSON-serialisable and bounded by the
 * number of custodians and log2(entries), never by the length of the journal.
 */
export interface ChainState {
  readonly vault: string | null;
  readonly device: string | null;
  readonly deviceKey: string | null;
  readonly checkpointEvery: number | null;
  readonly heartbeatMs: number | null;
  readonly firstSeq: number | null;
  readonly nextSeq: number;
  readonly headHash: string | null;
  readonly lastTime: number | null;
  readonly keys: Readonly<Record<string, KnownKey>>;
  /** Each enrolled custodian's role (custodian.enrolled, custodian.role-changed), for dual control. */
  readonly roles: Readonly<Record<string, string>>;
  /** Every device key the journal used before its current one (device.key-rotated): none may become a custodian's. */
  readonly formerDeviceKeys: readonly string[];
  readonly frontier: { readonly size: number; readonly nodes: readonly { readonly size: number; readonly hash: string }[] };
  readonly sinceCheckpoint: number;
  readonly lastCheckpoint: { readonly seq: number; readonly time: number } | null;
  readonly inSession: boolean;
  readonly uncleanSessions: number;
  readonly entriesVerified: number;
  readonly failureCount: number;
}

/**
 * How entries covered by a checkpoint are verified (docs/journal-format.md, section 10.2).
 * `full`: every signature of every entry. `anchored`: an entry covered by a later checkpoint that
 * verified, in a range where nothing failed, is attested by that checkpoint's device signature
 * over the recomputed Merkle root instead of by its own device signature; everything else
 * (custodian signatures included) is checked as in `full`.
 */
export type VerifyMode = 'anchored' | 'full';

/**
 * Entry types whose own device signature anchored mode always checks: the genesis, checkpoints
 * (the anchors themselves) and every entry whose effect on the verifier's key and role tables
 * applies only when it verifies completely (section 6).
 */
export const ALWAYS_FULL_TYPES: ReadonlySet<string> = new Set([
  ENTRY_TYPES.genesis,
  ENTRY_TYPES.checkpoint,
  ENTRY_TYPES.custodianEnrolled,
  ENTRY_TYPES.custodianRevoked,
  ENTRY_TYPES.custodianRoleChanged,
  ENTRY_TYPES.deviceKeyRotated,
]);

export interface VerificationReport {
  /** True only when no failure was found anywhere. */
  readonly ok: boolean;
  readonly mode: VerifyMode;
  /** Entries attested by a later checkpoint instead of their own device signature (0 in full mode). */
  readonly anchoredEntries: number;
  readonly vault: string | null;
  readonly device: string | null;
  /** Entries pushed (including failing ones) and the first and last seq seen. */
  readonly entries: number;
  readonly firstSeq: number | null;
  readonly head: { readonly seq: number; readonly hash: string } | null;
  readonly lastCheckpoint: { readonly seq: number; readonly time: number } | null;
  /** Sessions that started while the previous one never ended (a crash, or a truncated tail). */
  readonly uncleanSessions: number;
  readonly failureCount: number;
  /** The first failures (at most 1,000), in the order found. */
  readonly failures: readonly VerificationFailure[];
}

export interface ChainVerifierOptions {
  /** Resume from a saved state (the server keeps one per device). */
  readonly state?: ChainState;
  /** Largest checkpoint interval accepted; a genesis declaring a laxer policy fails BAD_GENESIS. */
  readonly checkpointEvery?: number;
  /** Largest heartbeat interval accepted (ms); as above. */
  readonly heartbeatMs?: number;
  /** Hashes known from elsewhere (server receipts): an entry at one of these seqs with another hash is a FORK. */
  readonly anchors?: readonly { readonly seq: number; readonly hash: string }[];
  /** Hash and signature primitives (default libsodium); the Node side passes node:crypto's. */
  readonly primitives?: JournalPrimitives;
  /** `full` (the default here) or `anchored` (section 10.2). */
  readonly mode?: VerifyMode;
  /**
   * For a range of a journal verified on its own (range-verify.ts): the number of entries before
   * the first one pushed. The frontier then holds only this range's leaves, and each checkpoint's
   * root is left to the join, which knows the leaves before it (`deferredRoots`).
   */
  readonly leafOffset?: number;
  /**
   * With `leafOffset` only: the caller keeps the range's Merkle leaves itself (the org export's
   * ranges, whose log hashes each leaf anyway and whose join checks the checkpoint roots). The
   * verifier then only counts the leaves: no hashing, no `deferredRoots`, and the state it hands
   * out has an empty frontier.
   */
  readonly leavesKeptByCaller?: boolean;
}

/** A checkpoint whose root a range verifier left to the join: its claimed root and the root of the range's own leaves before it. */
export interface DeferredRoot {
  readonly seq: number;
  readonly root: string;
  /** Root of the leaves from leafOffset up to the checkpoint (null: none). */
  readonly local: string | null;
}

/** An entry of the open range whose own device signature anchored mode has not checked yet. */
export interface HeldSignature {
  readonly seq: number;
  readonly hash: string;
  readonly sig: EntrySignature;
}

/** Results computed elsewhere (parallel-verify's workers): the recomputed hash and each signature's validity. */
export interface PrecomputedChecks {
  readonly hash: string;
  /** Per signature, in order; a missing answer (undefined or null) is checked by the verifier itself. */
  readonly signatures: readonly (boolean | null | undefined)[];
  /** Whether the bundle line was exactly the canonical JSON of its record (unset: not checked, the bundle verifier does it). */
  readonly canonical?: boolean;
  /** The entry's nesting was already checked against MAX_ENTRY_DEPTH (on its line's text). */
  readonly shallow?: boolean;
  /** The entry was read by readCanonicalEntryLine, which takes only well-formed entries (the shape check is done). */
  readonly wellFormed?: boolean;
}

const MAX_KEPT_FAILURES = 1_000;
/** The members a checkpoint's data may have (section 7): nothing it does not attest. */
const CHECKPOINT_DATA: ReadonlySet<string> = new Set(['size', 'root', 'heartbeat']);
const utf8 = new TextEncoder();

const initialState = (): ChainState => ({
  vault: null,
  device: null,
  deviceKey: null,
  checkpointEvery: null,
  heartbeatMs: null,
  firstSeq: null,
  nextSeq: 0,
  headHash: null,
  lastTime: null,
  keys: {},
  roles: {},
  formerDeviceKeys: [],
  frontier: { size: 0, nodes: [] },
  sinceCheckpoint: 0,
  lastCheckpoint: null,
  inSession: false,
  uncleanSessions: 0,
  entriesVerified: 0,
  failureCount: 0,
});

/** The verifier's working state: changed in place per entry (state() hands out copies). */
type WorkingState = { -readonly [K in keyof ChainState]: ChainState[K] };

/**
 * Streaming verifier of one device's chain: push entries in order, then finish(). Checks shape,
 * hash, chain links, sequence, time, signatures against the keys the journal itself introduced,
 * checkpoints (Merkle roots and spacing) and heartbeat gaps inside sessions. Memory stays flat.
 * Call `await sodiumReady()` before constructing one.
 */
export class ChainVerifier {
  private s: WorkingState;
  private frontier: MerkleFrontier;
  private readonly kept: VerificationFailure[] = [];
  private readonly anchors: ReadonlyMap<number, string>;
  private readonly maxCheckpointEvery: number | null;
  private readonly maxHeartbeatMs: number | null;
  private sodiumLoaded: Sodium | null = null;
  private readonly primitives: JournalPrimitives;
  readonly mode: VerifyMode;
  private readonly leafOffset: number | null;
  /** leavesKeptByCaller: the leaves counted instead of hashed into the frontier (null: they are hashed). */
  private countedLeaves: number | null;
  /** Checkpoint roots left to the join (range verifiers only). */
  readonly deferredRoots: DeferredRoot[] = [];
  /** Anchored mode: the entries since the last checkpoint, their failures not yet recorded. */
  private pending: PendingEntry[] = [];
  private pendingClean = true;
  private anchoredCount = 0;

  constructor(options: ChainVerifierOptions = {}) {
    this.primitives = options.primitives ?? sodiumPrimitives(this.sodium);
    this.mode = options.mode ?? 'full';
    this.leafOffset = options.leafOffset ?? null;
    if (options.leavesKeptByCaller === true && this.leafOffset === null) throw new Error('leavesKeptByCaller needs leafOffset');
    this.countedLeaves = options.leavesKeptByCaller === true ? 0 : null;
    // A copy: the caller's saved state is never changed. Nested objects (keys, lastCheckpoint)
    // are replaced, never edited, so states handed out earlier stay as they were.
    this.s = { ...(options.state ?? initialState()) };
    this.frontier = MerkleFrontier.restore(this.s.frontier, undefined, this.primitives.sha256);
    this.anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash]));
    this.maxCheckpointEvery = options.checkpointEvery ?? null;
    this.maxHeartbeatMs = options.heartbeatMs ?? null;
  }

  /** libsodium, loaded on first use (proposal signatures): a worker with injected primitives never needs it. */
  private get sodium(): Sodium {
    this.sodiumLoaded ??= sodiumNow();
    return this.sodiumLoaded;
  }

  /**
   * Checks one entry against everything before it; returns its failures (empty when it verifies).
   * In anchored mode the array of an entry in the open range (pending() > 0 after the call) may
   * still get its device signature's failure, in the place full mode reports it, until a
   * checkpoint closes the range or the range is verified in full.
   */
  push(raw: unknown, precomputed?: PrecomputedChecks): readonly VerificationFailure[] {
    const checked = this.check(raw, precomputed);
    if (this.mode === 'full') return this.record(checked.failures);
    this.pending.push({ failures: checked.failures, held: checked.held });
    if (checked.failures.length > 0) this.pendingClean = false;
    if (checked.closes) this.settle(this.pendingClean);
    else if (this.pending.length >= MAX_ANCHORED_RANGE) this.settle(false);
    return checked.failures;
  }

  /** Entries of the open range (anchored mode): their failures are final once this is 0. */
  pendingCount(): number {
    return this.pending.length;
  }

  /**
   * Verifies the open range in full (anchored mode): no checkpoint covers it. finish() does this;
   * call it before state() when the state is kept to resume from.
   */
  closeRange(): void {
    if (this.pending.length > 0) this.settle(false);
  }

  /**
   * Marks the open range (anchored mode) as failed, for an entry line reported and skipped
   * outside the chain (not canonical, nested too deep): the range it falls in is then checked in full.
   */
  taintRange(): void {
    if (this.mode === 'anchored') this.pendingClean = false;
  }

  /** The open range's entries, each with its held device signature (null: checked already); for range-verify.ts. */
  openRange(): { readonly clean: boolean; readonly held: readonly (HeldSignature | null)[] } {
    return { clean: this.pendingClean, held: this.pending.map((p) => p.held && { seq: p.held.seq, hash: p.held.hash, sig: p.held.sig }) };
  }

  /** Entries attested by a checkpoint so far (anchored mode). */
  anchoredEntries(): number {
    return this.anchoredCount;
  }

  /** Leaves in the Merkle frontier: the entries that took their place in the chain. */
  leafCount(): number {
    return this.countedLeaves ?? this.frontier.size;
  }

  /**
   * Joins a range verified elsewhere (range-verify.ts) onto this verifier, when the state that
   * range assumed is the one this verifier is in and nothing failed anywhere: then the result is
   * exactly what pushing its entries here would give. Returns the failure arrays of the range's
   * entries left in the open range (anchored mode; empty and final so far), or null when the range
   * cannot be joined and its entries must be pushed here one by one.
   */
  joinRange(r: RangeSummary): VerificationFailure[][] | null {
    const s = this.s;
    const checkpointEvery = s.checkpointEvery;
    if (this.leafOffset !== null || r.mode !== this.mode || !this.pendingClean) return null;
    if (s.headHash === null || s.headHash !== r.first.prev || s.nextSeq !== r.first.seq || this.frontier.size !== r.leafOffset) return null;
    if (rangeContext(s) !== r.context) return null;
    if (s.lastTime === null || s.lastTime > r.first.time) return null;
    const resumes = r.first.type === ENTRY_TYPES.sessionResumed || r.first.type === ENTRY_TYPES.sessionStarted;
    if (s.inSession && !resumes && s.heartbeatMs !== null && r.first.time - s.lastTime > s.heartbeatMs * HEARTBEAT_GRACE) return null;
    if (checkpointEvery !== null && s.sinceCheckpoint + r.beforeCheckpoint > checkpointEvery) return null;
    if (this.mode === 'anchored' && this.pending.length + r.beforeCheckpoint >= MAX_ANCHORED_RANGE) return null;
    const sha256 = this.primitives.sha256;
    const nodes = this.frontier.subtrees();
    for (const root of r.roots) {
      let acc: Uint8Array | null = root.local === null ? null : hexToBytes(root.local);
      for (let i = nodes.length - 1; i >= 0; i--) acc = acc === null ? nodes[i]! : nodeHash(nodes[i]!, acc, sha256);
      if (bytesToHex(acc ?? sha256(new Uint8Array(0))) !== root.root) return null;
    }

    // Joined: the range's leaves extend the frontier as the perfect subtrees they form (its first
    // leaf is aligned to a power of two at least its length, so they extend it as pushes would).
    const merged = this.frontier.snapshot();
    for (const n of r.end.frontier.nodes) {
      merged.nodes.push({ size: n.size, hash: n.hash });
      for (let k = merged.nodes.length; k >= 2 && merged.nodes[k - 2]!.size === merged.nodes[k - 1]!.size; k--) {
        const right = merged.nodes.pop()!;
        const left = merged.nodes.pop()!;
        merged.nodes.push({ size: left.size * 2, hash: bytesToHex(nodeHash(hexToBytes(left.hash), hexToBytes(right.hash), sha256)) });
      }
    }
    merged.size += r.end.frontier.size;
    this.frontier = MerkleFrontier.restore(merged, undefined, sha256);
    if (r.hasCheckpoint) this.settle(true);
    const added = r.open.map((held) => {
      const failures: VerificationFailure[] = [];
      this.pending.push({ failures, held: held && { at: 0, ...held } });
      return failures;
    });
    this.anchoredCount += r.anchored;
    const e = r.end;
    this.s = {
      ...s,
      vault: e.vault,
      device: e.device,
      deviceKey: e.deviceKey,
      checkpointEvery: e.checkpointEvery,
      heartbeatMs: e.heartbeatMs,
      keys: e.keys,
      roles: e.roles,
      formerDeviceKeys: e.formerDeviceKeys,
      nextSeq: e.nextSeq,
      headHash: e.headHash,
      lastTime: e.lastTime,
      sinceCheckpoint: r.hasCheckpoint ? e.sinceCheckpoint : s.sinceCheckpoint + e.sinceCheckpoint,
      lastCheckpoint: r.hasCheckpoint ? e.lastCheckpoint : s.lastCheckpoint,
      inSession: r.firstSession === null ? s.inSession : e.inSession,
      // The range assumed a session was open at its start: its first session.started counted an unclean end.
      uncleanSessions: s.uncleanSessions + e.uncleanSessions - (r.firstSession === ENTRY_TYPES.sessionStarted && !s.inSession ? 1 : 0),
      entriesVerified: s.entriesVerified + e.entriesVerified,
    };
    return added;
  }

  /** Closes the open range: anchored (its held signatures are attested) or verified in full; records its failures in order. */
  private settle(anchored: boolean): void {
    for (const p of this.pending) {
      const held = p.held;
      if (held !== null) {
        if (anchored) this.anchoredCount += 1;
        else if (!this.primitives.verifyEntrySignature(held.hash, held.sig))
          p.failures.splice(held.at, 0, {
            seq: held.seq,
            code: 'BAD_SIGNATURE',
            reason: `signature 0 by ${short(held.sig.key)} does not verify`,
          });
      }
      this.record(p.failures);
    }
    this.pending = [];
    this.pendingClean = true;
  }

  /** Everything push() checks, without recording: the entry's failures, its held device signature, and whether it closes a range. */
  private check(raw: unknown, precomputed: PrecomputedChecks | undefined): Checked {
    const failures: VerificationFailure[] = [];
    // Before anything walks the entry recursively (the schema, the canonical encoder).
    if (precomputed?.shallow !== true && valueDepthExceeds(raw, MAX_ENTRY_DEPTH))
      return malformed(rawSeqOf(raw), `the entry is nested deeper than ${MAX_ENTRY_DEPTH} levels`);
    const parsed =
      precomputed?.wellFormed === true || isWellFormedEntry(raw) ? ({ success: true, data: raw } as const) : entrySchema.safeParse(raw);
    if (!parsed.success) {
      const seq =
        typeof raw === 'object' && raw !== null && Number.isSafeInteger((raw as { seq?: unknown }).seq)
          ? (raw as { seq: number }).seq
          : null;
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'entry';
      return malformed(seq, `${where}: ${issue?.message ?? 'does not match the entry format'}`);
    }
    const entry = parsed.data as unknown as SignedEntry;
    // `data` gets the same test from the canonical encoder below; `actor` is encoded without it.
    if (entry.actor !== null && hasLoneSurrogate(entry.actor))
      return malformed(entry.seq, 'actor: the string holds a lone surrogate, which is not Unicode text (section 2.1)');
    const fail = (code: FailureCode, reason: string): void => {
      failures.push({ seq: entry.seq, code, reason });
    };
    const s = this.s;
    let hash: string;
    try {
      hash = precomputed?.hash ?? bytesToHex(this.primitives.sha256(utf8.encode(canonicalBodyText(entry))));
    } catch (error) {
      return malformed(entry.seq, error instanceof Error ? error.message : 'not canonical JSON');
    }
    if (hash !== entry.hash)
      fail('HASH_MISMATCH', `stored hash ${short(entry.hash)} but the entry hashes to ${short(hash)}: a field was changed`);

    // Position in the chain.
    const starting = s.headHash === null;
    if (starting) {
      if (entry.seq !== 0) fail('BAD_GENESIS', `the journal starts at seq ${entry.seq}, not at a genesis entry (seq 0)`);
    } else if (entry.seq < s.nextSeq) {
      if (entry.seq === s.nextSeq - 1 && entry.hash === s.headHash) fail('DUPLICATE_ENTRY', `seq ${entry.seq} appears twice`);
      else
        fail(
          'OUT_OF_ORDER',
          `seq ${entry.seq} comes after seq ${s.nextSeq - 1}: entries were reordered or a second history was spliced in`,
        );
      // An entry behind the head cannot extend the chain; nothing else about it is checked.
      return { failures, held: null, closes: false };
    } else if (entry.seq > s.nextSeq) {
      fail(
        'SEQUENCE_GAP',
        `expected seq ${s.nextSeq}, found ${entry.seq}: ${entry.seq - s.nextSeq} entr${entry.seq - s.nextSeq === 1 ? 'y is' : 'ies are'} missing`,
      );
    } else if (entry.prev !== s.headHash) {
      fail('BROKEN_LINK', `prev ${short(entry.prev)} is not the hash of seq ${entry.seq - 1} (${short(s.headHash ?? '')})`);
    }
    const anchored = this.anchors.get(entry.seq);
    if (anchored !== undefined && anchored !== entry.hash)
      fail('FORK', `the server holds hash ${short(anchored)} for seq ${entry.seq}, this journal has ${short(entry.hash)}`);

    const isGenesis = entry.seq === 0 && entry.type === ENTRY_TYPES.genesis;
    let next = s;
    if (isGenesis && starting) next = this.s = this.checkGenesis(entry, fail);
    else if (entry.type === ENTRY_TYPES.genesis) fail('BAD_GENESIS', 'a genesis entry after seq 0');
    else if (starting && entry.seq === 0) fail('BAD_GENESIS', `seq 0 has type ${entry.type}, not ${ENTRY_TYPES.genesis}`);

    if (next.vault !== null && entry.vault !== next.vault)
      fail('WRONG_VAULT', `entry names vault ${entry.vault}, the journal is for vault ${next.vault}`);
    if (next.device !== null && entry.device !== next.device)
      fail('WRONG_DEVICE', `entry names device ${short(entry.device)}, the journal is device ${short(next.device)}'s`);
    if (next.lastTime !== null && entry.time < next.lastTime)
      fail('TIME_BACKWARDS', `time ${entry.time} is before the previous entry's ${next.lastTime}`);

    // Anchored mode holds back the device signature of an entry a checkpoint may attest; the
    // signature checks before it add no failure for such a type, so this is where full mode puts it.
    const held =
      this.mode === 'anchored' && !ALWAYS_FULL_TYPES.has(entry.type)
        ? { at: failures.length, seq: entry.seq, hash: entry.hash, sig: entry.sigs[0]! }
        : null;
    const keyChanges = this.checkSignatures(entry, next, precomputed?.signatures, held !== null, fail);
    this.checkCheckpointAndSession(entry, next, fail);

    // Key changes take effect only from an entry that verified completely.
    if (failures.length === 0 && keyChanges !== null) keyChanges(next);
    if (this.countedLeaves === null) this.frontier.push(hexToBytes(entry.hash));
    else this.countedLeaves += 1;
    next.firstSeq ??= entry.seq;
    next.nextSeq = entry.seq + 1;
    next.headHash = entry.hash;
    next.lastTime = Math.max(next.lastTime ?? entry.time, entry.time);
    next.entriesVerified += 1;
    return { failures, held, closes: entry.type === ENTRY_TYPES.checkpoint };
  }

  /** End-of-stream checks: the expected head, a final checkpoint, and a live session's freshness. */
  finish(options: { expectHead?: { seq: number; hash: string }; now?: number; requireFinalCheckpoint?: boolean } = {}): VerificationReport {
    // No checkpoint follows the open range: it is verified in full.
    this.closeRange();
    const s = this.s;
    const failures: VerificationFailure[] = [];
    const head = s.headHash === null ? null : { seq: s.nextSeq - 1, hash: s.headHash };
    if (head === null) failures.push({ seq: null, code: 'EMPTY_JOURNAL', reason: 'no entries were found' });
    const expect = options.expectHead;
    if (expect && head) {
      if (head.seq < expect.seq)
        failures.push({
          seq: head.seq,
          code: 'TRUNCATED_TAIL',
          reason: `the journal ends at seq ${head.seq} but must reach seq ${expect.seq}: ${expect.seq - head.seq} entries are missing from the end`,
        });
      else if (head.seq > expect.seq)
        failures.push({
          seq: head.seq,
          code: 'HEAD_MISMATCH',
          reason: `the journal runs to seq ${head.seq}, past the expected head ${expect.seq}`,
        });
      else if (head.hash !== expect.hash)
        failures.push({
          seq: head.seq,
          code: 'FORK',
          reason: `head seq ${head.seq} has hash ${short(head.hash)}, expected ${short(expect.hash)}`,
        });
    }
    if (options.requireFinalCheckpoint && head && s.sinceCheckpoint > 0) {
      failures.push({
        seq: head.seq,
        code: 'MISSING_CHECKPOINT',
        reason: `the last ${s.sinceCheckpoint} entries are not covered by a checkpoint`,
      });
    }
    if (options.now !== undefined && s.inSession && s.lastTime !== null && s.heartbeatMs !== null) {
      const idle = options.now - s.lastTime;
      if (idle > s.heartbeatMs * HEARTBEAT_GRACE) {
        failures.push({
          seq: head?.seq ?? null,
          code: 'TRUNCATED_TAIL',
          reason: `a session is open but the last entry is ${idle} ms old (heartbeat every ${s.heartbeatMs} ms): later entries may have been deleted`,
        });
      }
    }
    this.record(failures);
    return {
      ok: this.s.failureCount === 0,
      mode: this.mode,
      anchoredEntries: this.anchoredCount,
      vault: s.vault,
      device: s.device,
      entries: s.entriesVerified,
      firstSeq: s.firstSeq,
      head,
      lastCheckpoint: s.lastCheckpoint,
      uncleanSessions: s.uncleanSessions,
      failureCount: this.s.failureCount,
      failures: [...this.kept],
    };
  }

  /** The resumable state (JSON-serialisable). */
  state(): ChainState {
    return { ...this.s, frontier: this.frontier.snapshot() };
  }

  private record(failures: VerificationFailure[]): readonly VerificationFailure[] {
    for (const f of failures) if (this.kept.length < MAX_KEPT_FAILURES) this.kept.push(f);
    this.s.failureCount += failures.length;
    return failures;
  }

  private checkGenesis(entry: SignedEntry, fail: (code: FailureCode, reason: string) => void): WorkingState {
    const d = entry.data;
    if (entry.prev !== GENESIS_PREV) fail('BAD_GENESIS', 'genesis prev must be 64 zeros');
    if (entry.actor !== null) fail('BAD_GENESIS', 'genesis has no actor');
    if (d.deviceKey !== entry.device) fail('BAD_GENESIS', 'genesis data.deviceKey must equal the device field');
    const every = d.checkpointEvery;
    const beat = d.heartbeatMs;
    const positive = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
    if (!positive(every) || !positive(beat)) fail('BAD_GENESIS', 'genesis must declare positive integer checkpointEvery and heartbeatMs');
    if (positive(every) && this.maxCheckpointEvery !== null && every > this.maxCheckpointEvery)
      fail('BAD_GENESIS', `checkpointEvery ${every} is laxer than the required ${this.maxCheckpointEvery}`);
    if (positive(beat) && this.maxHeartbeatMs !== null && beat > this.maxHeartbeatMs)
      fail('BAD_GENESIS', `heartbeatMs ${beat} is laxer than the required ${this.maxHeartbeatMs}`);
    return {
      ...this.s,
      vault: entry.vault,
      device: entry.device,
      deviceKey: entry.device,
      checkpointEvery: positive(every) ? every : null,
      heartbeatMs: positive(beat) ? beat : null,
    };
  }

  /**
   * Checks every signature; returns the key changes this entry makes (applied only if it
   * verifies), or null when it makes none, as almost every entry does.
   */
  private checkSignatures(
    entry: SignedEntry,
    s: ChainState,
    precomputed: PrecomputedChecks['signatures'] | undefined,
    holdDevice: boolean,
    fail: (code: FailureCode, reason: string) => void,
  ): ((s: WorkingState) => void) | null {
    const d = entry.data;
    const sigs = entry.sigs;
    // Only an entry with several signatures can repeat a key.
    const seen = sigs.length > 1 ? new Set<string>() : null;
    // The key a custodian.enrolled entry introduces (no other entry introduces one).
    let introduced: readonly [key: string, custodian: string] | null = null;
    let rotateTo: string | null = null;
    let revoke: string | null = null;
    if (entry.type === ENTRY_TYPES.custodianEnrolled) {
      if (typeof d.custodian !== 'string' || d.custodian.length === 0 || typeof d.signingKey !== 'string' || !HEX32.test(d.signingKey)) {
        fail('MALFORMED_ENTRY', 'custodian.enrolled needs data.custodian (id) and data.signingKey (64 hex)');
      } else if (s.keys[d.signingKey] !== undefined || d.signingKey === s.deviceKey || s.formerDeviceKeys.includes(d.signingKey)) {
        fail('MALFORMED_ENTRY', `signing key ${short(d.signingKey)} is already in use`);
      } else introduced = [d.signingKey, d.custodian];
    } else if (entry.type === ENTRY_TYPES.custodianRevoked) {
      if (typeof d.signingKey !== 'string' || s.keys[d.signingKey] === undefined)
        fail('UNKNOWN_KEY', 'custodian.revoked names a key the journal never enrolled');
      else revoke = d.signingKey;
    } else if (entry.type === ENTRY_TYPES.deviceKeyRotated) {
      if (typeof d.newDeviceKey !== 'string' || !HEX32.test(d.newDeviceKey))
        fail('MALFORMED_ENTRY', 'device.key-rotated needs data.newDeviceKey (64 hex)');
      else {
        // Its signature below counts as the new device key's; the rotation itself takes effect
        // only if the entry verifies, which it does not when the key is or was a custodian's
        // (revoked keys stay in the table).
        rotateTo = d.newDeviceKey;
        if (s.keys[rotateTo] !== undefined)
          fail('MALFORMED_ENTRY', `new device key ${short(rotateTo)} is custodian ${s.keys[rotateTo]!.custodian}'s signing key`);
      }
    } else if (entry.type === ENTRY_TYPES.checkpoint) {
      // Section 7: a checkpoint is the device's statement alone.
      if (entry.actor !== null) fail('MALFORMED_ENTRY', `a checkpoint has no actor, this one names ${entry.actor}`);
      if (sigs.length !== 1)
        fail('MALFORMED_ENTRY', `a checkpoint is signed by the device key only, this one has ${sigs.length} signatures`);
      const extra = Object.keys(d).filter((k) => !CHECKPOINT_DATA.has(k));
      if (extra.length > 0)
        fail(
          'MALFORMED_ENTRY',
          `a checkpoint's data has only size, root and heartbeat, this one also ${extra.sort().join(', ').slice(0, 200)}`,
        );
      else if (Object.hasOwn(d, 'heartbeat') && d.heartbeat !== true)
        fail('MALFORMED_ENTRY', "a checkpoint's data.heartbeat is true when present");
    }

    let actorSigned = false;
    let actorRevoked = false;
    let newDeviceSigned = false;
    // Custodians whose signature over this entry verified with a live key (dual control reads it).
    const signedBy = TWO_PERSON_TYPES[entry.type] === undefined ? null : new Set<string>();
    for (let i = 0; i < sigs.length; i++) {
      const sig = sigs[i]!;
      if (seen !== null) {
        if (seen.has(sig.key)) fail('MALFORMED_ENTRY', `key ${short(sig.key)} signs twice`);
        seen.add(sig.key);
      }
      // The held device signature is checked when its range closes (push, settle).
      const valid = (i === 0 && holdDevice) || (precomputed?.[i] ?? this.primitives.verifyEntrySignature(entry.hash, sig));
      if (!valid) {
        fail('BAD_SIGNATURE', `signature ${i} by ${short(sig.key)} does not verify`);
        continue;
      }
      if (i === 0) continue; // the device signature slot, checked below
      if (sig.key === rotateTo) {
        newDeviceSigned = true;
        continue;
      }
      const custodian = s.keys[sig.key]?.custodian ?? (introduced !== null && introduced[0] === sig.key ? introduced[1] : undefined);
      if (custodian === undefined) {
        fail('UNKNOWN_KEY', `signature ${i} is by ${short(sig.key)}, a key the journal never introduced`);
        continue;
      }
      const known = s.keys[sig.key];
      if (known && known.revokedAt !== null) {
        if (custodian === entry.actor) actorRevoked = true;
        fail('REVOKED_KEY', `signature ${i} is by ${short(sig.key)} of ${custodian}, revoked at seq ${known.revokedAt}`);
        continue;
      }
      if (custodian === entry.actor) actorSigned = true;
      signedBy?.add(custodian);
    }
    const first = sigs[0];
    if (s.deviceKey !== null && first !== undefined && first.key !== s.deviceKey) {
      fail('MISSING_DEVICE_SIGNATURE', `the first signature must be the device key ${short(s.deviceKey)}, found ${short(first.key)}`);
    }
    if (entry.actor !== null && !actorSigned && !actorRevoked) {
      fail('MISSING_ACTOR_SIGNATURE', `actor ${entry.actor} did not sign with an enrolled key`);
    }
    if (rotateTo !== null && !newDeviceSigned)
      fail('MISSING_DEVICE_SIGNATURE', 'device.key-rotated must also be signed by the new device key');
    if (signedBy !== null) {
      const problem = approvalProblem(entry, rosterOf(s), signedBy, this.sodium);
      if (problem !== null) fail('MISSING_APPROVAL', problem);
    }

    // A role is set by the enrolment and by custodian.role-changed (section "Dual control").
    let role: readonly [string, string] | null = null;
    if (
      (entry.type === ENTRY_TYPES.custodianEnrolled || entry.type === ENTRY_TYPES.custodianRoleChanged) &&
      typeof d.custodian === 'string' &&
      typeof d.role === 'string'
    ) {
      role = [d.custodian, d.role];
    }
    // Most entries change no key and no role: the state (and its tables) is then left as it is.
    if (introduced === null && revoke === null && rotateTo === null && role === null) return null;
    return (state) => {
      // New tables, never edits of the old ones: states handed out by state() share them.
      const keys: Record<string, KnownKey> = { ...state.keys };
      if (introduced !== null) keys[introduced[0]] = { custodian: introduced[1], revokedAt: null };
      if (revoke !== null) keys[revoke] = { custodian: keys[revoke]!.custodian, revokedAt: entry.seq };
      state.keys = keys;
      if (role !== null) state.roles = { ...state.roles, [role[0]]: role[1] };
      if (rotateTo !== null) {
        if (state.deviceKey !== null) state.formerDeviceKeys = [...state.formerDeviceKeys, state.deviceKey];
        state.deviceKey = rotateTo;
      }
    };
  }

  /** Session and checkpoint bookkeeping, updated in place. */
  private checkCheckpointAndSession(entry: SignedEntry, s: WorkingState, fail: (code: FailureCode, reason: string) => void): void {
    // Inside a session the app writes at least a heartbeat every heartbeatMs; a longer silence
    // means entries were removed, unless the app says it was suspended or this starts a new session.
    if (
      s.inSession &&
      s.lastTime !== null &&
      s.heartbeatMs !== null &&
      entry.type !== ENTRY_TYPES.sessionResumed &&
      entry.type !== ENTRY_TYPES.sessionStarted
    ) {
      const gap = entry.time - s.lastTime;
      if (gap > s.heartbeatMs * HEARTBEAT_GRACE)
        fail('MISSING_CHECKPOINT', `${gap} ms without an entry inside a session (heartbeat every ${s.heartbeatMs} ms)`);
    }
    switch (entry.type) {
      case ENTRY_TYPES.sessionStarted:
        if (s.inSession) s.uncleanSessions += 1;
        s.inSession = true;
        break;
      case ENTRY_TYPES.sessionEnded:
        s.inSession = false;
        break;
      default:
        break;
    }
    if (entry.type === ENTRY_TYPES.checkpoint) {
      const size = entry.data.size;
      const root = entry.data.root;
      if (size !== entry.seq) {
        fail(
          'CHECKPOINT_ROOT_MISMATCH',
          `checkpoint at seq ${entry.seq} has data.size ${(JSON.stringify(size) ?? 'missing').slice(0, 40)}; it must be ${entry.seq}, the number of entries before it`,
        );
      } else if (typeof root !== 'string' || !HEX32.test(root)) {
        fail('CHECKPOINT_ROOT_MISMATCH', `checkpoint at seq ${entry.seq} has no 64-hex data.root`);
      } else if (this.leafCount() + (this.leafOffset ?? 0) !== entry.seq) {
        fail(
          'CHECKPOINT_ROOT_MISMATCH',
          `checkpoint covers ${entry.seq} entries but ${this.leafCount() + (this.leafOffset ?? 0)} were seen before it`,
        );
      } else if (this.leafOffset !== null) {
        // A range on its own: the leaves before it are the join's to add (joinRange), or the caller's.
        if (this.countedLeaves === null)
          this.deferredRoots.push({ seq: entry.seq, root, local: this.frontier.size === 0 ? null : bytesToHex(this.frontier.root()) });
      } else if (bytesToHex(this.frontier.root()) !== root) {
        fail('CHECKPOINT_ROOT_MISMATCH', `checkpoint root ${short(root)} is not the Merkle root of entries 0..${entry.seq - 1}`);
      }
      s.sinceCheckpoint = 0;
      s.lastCheckpoint = { seq: entry.seq, time: entry.time };
      return;
    }
    const since = s.sinceCheckpoint + 1;
    if (s.checkpointEvery !== null && since > s.checkpointEvery) {
      fail('MISSING_CHECKPOINT', `${since} entries in a row without a checkpoint (one is due every ${s.checkpointEvery})`);
      s.sinceCheckpoint = 0;
      return;
    }
    s.sinceCheckpoint = since;
  }
}

/** An entry of the open range in anchored mode: its failures (recorded when the range closes) and its held device signature. */
interface PendingEntry {
  readonly failures: VerificationFailure[];
  readonly held: (HeldSignature & { readonly at: number }) | null;
}

interface Checked {
  readonly failures: VerificationFailure[];
  readonly held: (HeldSignature & { readonly at: number }) | null;
  /** A checkpoint that took its place in the chain: it closes the open range. */
  readonly closes: boolean;
}

/** The seq of something pushed as an entry, when it has a usable one. */
const rawSeqOf = (raw: unknown): number | null =>
  typeof raw === 'object' && raw !== null && Number.isSafeInteger((raw as { seq?: unknown }).seq) ? (raw as { seq: number }).seq : null;

const malformed = (seq: number | null, reason: string): Checked => ({
  failures: [{ seq, code: 'MALFORMED_ENTRY', reason }],
  held: null,
  closes: false,
});

/**
 * What a range verified on its own (range-verify.ts) hands back when nothing in it failed: what
 * it assumed about the state before it, and what the join needs to continue from it.
 */
export interface RangeSummary {
  readonly mode: VerifyMode;
  /** Leaves before the range (its first entry's place in the Merkle tree). */
  readonly leafOffset: number;
  /** rangeContext() of the state it started from. */
  readonly context: string;
  readonly first: { readonly seq: number; readonly prev: string; readonly time: number; readonly type: string };
  /** Entries before its first checkpoint (all of its entries when it has none). */
  readonly beforeCheckpoint: number;
  readonly hasCheckpoint: boolean;
  /** Type of its first session.started or session.ended, or null when it has neither. */
  readonly firstSession: string | null;
  readonly roots: readonly DeferredRoot[];
  /** Its state at the end, its frontier holding only its own leaves. */
  readonly end: ChainState;
  /** Its entries left in the open range at its end, with their held device signatures (anchored mode). */
  readonly open: readonly (HeldSignature | null)[];
  /** Entries it found attested by a checkpoint. */
  readonly anchored: number;
}

/** The part of the state that changes only with key, role and genesis entries, as one comparable text. */
export function rangeContext(s: ChainState): string {
  return canonicalize({
    vault: s.vault,
    device: s.device,
    deviceKey: s.deviceKey,
    checkpointEvery: s.checkpointEvery,
    heartbeatMs: s.heartbeatMs,
    keys: s.keys as unknown as Record<string, unknown>,
    roles: s.roles,
    formerDeviceKeys: s.formerDeviceKeys,
  });
}

/** The state a range verifier starts from: the context it was given, and a first entry that links. */
export function rangeStartState(context: ChainState, first: { seq: number; prev: string; time: number }): ChainState {
  return {
    ...initialState(),
    vault: context.vault,
    device: context.device,
    deviceKey: context.deviceKey,
    checkpointEvery: context.checkpointEvery,
    heartbeatMs: context.heartbeatMs,
    keys: context.keys,
    roles: context.roles,
    formerDeviceKeys: context.formerDeviceKeys,
    nextSeq: first.seq,
    headHash: first.prev,
    lastTime: first.time,
    // Assumed; the join corrects what depended on it (session.started's unclean count) or refuses.
    inSession: true,
  };
}

/** The roster as dual control reads it, over the verifier's key and role tables (a handful of custodians). */
function rosterOf(s: ChainState): Roster {
  const entries = Object.entries(s.keys);
  return {
    roleOf: (custodian) => s.roles[custodian],
    liveKeysOf: (custodian) => entries.filter(([, k]) => k.custodian === custodian && k.revokedAt === null).map(([key]) => key),
    ownerOf: (key) => s.keys[key]?.custodian,
    enrolledCount: Object.keys(s.roles).length,
  };
}

function short(hex: string): string {
  return hex.length > 12 ? `${hex.slice(0, 12)}…` : hex;
}

/** Verifies a whole in-order sequence of entries (convenience over ChainVerifier). */
export function verifyEntries(
  entries: Iterable<unknown>,
  options: ChainVerifierOptions & { expectHead?: { seq: number; hash: string }; now?: number; requireFinalCheckpoint?: boolean } = {},
): VerificationReport {
  const verifier = new ChainVerifier(options);
  for (const e of entries) verifier.push(e);
  return verifier.finish(options);
}

/** The canonical JSON line of an entry as it appears in an export (one per line). */
export function entryLine(entry: SignedEntry): string {
  return canonicalize(entry as unknown as Record<string, unknown>);
}

import { sodiumNow, type Sodium } from '../sodium';
import { canonicalize } from './canonical';
import { GENESIS_PREV, canonicalBodyText, type SignedEntry } from './entry';
import { ENTRY_TYPES, HEARTBEAT_GRACE, HEX32 } from './entry-types';
import { entrySchema, isWellFormedEntry } from './entry-shape';
import { MerkleFrontier } from './merkle';
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
  readonly frontier: { readonly size: number; readonly nodes: readonly { readonly size: number; readonly hash: string }[] };
  readonly sinceCheckpoint: number;
  readonly lastCheckpoint: { readonly seq: number; readonly time: number } | null;
  readonly inSession: boolean;
  readonly uncleanSessions: number;
  readonly entriesVerified: number;
  readonly failureCount: number;
}

export interface VerificationReport {
  /** True only when no failure was found anywhere. */
  readonly ok: boolean;
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
}

/** Results computed elsewhere (parallel-verify's workers): the recomputed hash and each signature's validity. */
export interface PrecomputedChecks {
  readonly hash: string;
  /** Per signature, in order; a missing answer is checked by the verifier itself. */
  readonly signatures: readonly boolean[];
  /** Whether the bundle line was exactly the canonical JSON of its record (unset: not checked, the bundle verifier does it). */
  readonly canonical?: boolean;
}

const MAX_KEPT_FAILURES = 1_000;
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
  private readonly sodium: Sodium;
  private readonly primitives: JournalPrimitives;

  constructor(options: ChainVerifierOptions = {}) {
    this.sodium = sodiumNow();
    this.primitives = options.primitives ?? sodiumPrimitives(this.sodium);
    // A copy: the caller's saved state is never changed. Nested objects (keys, lastCheckpoint)
    // are replaced, never edited, so states handed out earlier stay as they were.
    this.s = { ...(options.state ?? initialState()) };
    this.frontier = MerkleFrontier.restore(this.s.frontier, this.sodium, this.primitives.sha256);
    this.anchors = new Map((options.anchors ?? []).map((a) => [a.seq, a.hash]));
    this.maxCheckpointEvery = options.checkpointEvery ?? null;
    this.maxHeartbeatMs = options.heartbeatMs ?? null;
  }

  /** Checks one entry against everything before it; returns its failures (empty when it verifies). */
  push(raw: unknown, precomputed?: PrecomputedChecks): readonly VerificationFailure[] {
    const failures: VerificationFailure[] = [];
    const parsed = isWellFormedEntry(raw) ? ({ success: true, data: raw } as const) : entrySchema.safeParse(raw);
    if (!parsed.success) {
      const seq =
        typeof raw === 'object' && raw !== null && Number.isSafeInteger((raw as { seq?: unknown }).seq)
          ? (raw as { seq: number }).seq
          : null;
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'entry';
      return this.record([{ seq, code: 'MALFORMED_ENTRY', reason: `${where}: ${issue?.message ?? 'does not match the entry format'}` }]);
    }
    const entry = parsed.data as unknown as SignedEntry;
    const fail = (code: FailureCode, reason: string): void => {
      failures.push({ seq: entry.seq, code, reason });
    };
    const s = this.s;
    let hash: string;
    try {
      hash = precomputed?.hash ?? bytesToHex(this.primitives.sha256(utf8.encode(canonicalBodyText(entry))));
    } catch (error) {
      return this.record([
        { seq: entry.seq, code: 'MALFORMED_ENTRY', reason: error instanceof Error ? error.message : 'not canonical JSON' },
      ]);
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
      return this.record(failures);
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

    const keyChanges = this.checkSignatures(entry, next, precomputed?.signatures, fail);
    this.checkCheckpointAndSession(entry, next, fail);

    // Key changes take effect only from an entry that verified completely.
    if (failures.length === 0 && keyChanges !== null) keyChanges(next);
    this.frontier.push(hexToBytes(entry.hash));
    next.firstSeq ??= entry.seq;
    next.nextSeq = entry.seq + 1;
    next.headHash = entry.hash;
    next.lastTime = Math.max(next.lastTime ?? entry.time, entry.time);
    next.entriesVerified += 1;
    return this.record(failures);
  }

  /** End-of-stream checks: the expected head, a final checkpoint, and a live session's freshness. */
  finish(options: { expectHead?: { seq: number; hash: string }; now?: number; requireFinalCheckpoint?: boolean } = {}): VerificationReport {
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
    precomputed: readonly boolean[] | undefined,
    fail: (code: FailureCode, reason: string) => void,
  ): ((s: WorkingState) => void) | null {
    const d = entry.data;
    const sigs = entry.sigs;
    // Only an entry with several signatures can repeat a key.
    const seen = sigs.length > 1 ? new Set<string>() : null;
    const introduced = new Map<string, string>();
    let rotateTo: string | null = null;
    let revoke: string | null = null;
    if (entry.type === ENTRY_TYPES.custodianEnrolled) {
      if (typeof d.custodian !== 'string' || d.custodian.length === 0 || typeof d.signingKey !== 'string' || !HEX32.test(d.signingKey)) {
        fail('MALFORMED_ENTRY', 'custodian.enrolled needs data.custodian (id) and data.signingKey (64 hex)');
      } else if (s.keys[d.signingKey] !== undefined || d.signingKey === s.deviceKey) {
        fail('MALFORMED_ENTRY', `signing key ${short(d.signingKey)} is already in use`);
      } else introduced.set(d.signingKey, d.custodian);
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
    }

    let actorSigned = false;
    let actorRevoked = false;
    let newDeviceSigned = false;
    for (let i = 0; i < sigs.length; i++) {
      const sig = sigs[i]!;
      if (seen !== null) {
        if (seen.has(sig.key)) fail('MALFORMED_ENTRY', `key ${short(sig.key)} signs twice`);
        seen.add(sig.key);
      }
      const valid = precomputed?.[i] ?? this.primitives.verifyEntrySignature(entry.hash, sig);
      if (!valid) {
        fail('BAD_SIGNATURE', `signature ${i} by ${short(sig.key)} does not verify`);
        continue;
      }
      if (i === 0) continue; // the device signature slot, checked below
      if (sig.key === rotateTo) {
        newDeviceSigned = true;
        continue;
      }
      const custodian = s.keys[sig.key]?.custodian ?? introduced.get(sig.key);
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

    // Most entries change no key: the state (and its key table) is then left as it is.
    if (introduced.size === 0 && revoke === null && rotateTo === null) return null;
    return (state) => {
      // A new key table, never an edit of the old one: states handed out by state() share it.
      const keys: Record<string, KnownKey> = { ...state.keys };
      for (const [key, custodian] of introduced) keys[key] = { custodian, revokedAt: null };
      if (revoke !== null) keys[revoke] = { custodian: keys[revoke]!.custodian, revokedAt: entry.seq };
      state.keys = keys;
      if (rotateTo !== null) state.deviceKey = rotateTo;
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
      } else if (this.frontier.size !== entry.seq) {
        fail('CHECKPOINT_ROOT_MISMATCH', `checkpoint covers ${entry.seq} entries but ${this.frontier.size} were seen before it`);
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

import type { SignedEntry } from '../shared/journal/entry';
import { ENTRY_TYPES, SYNC_ENTRY_TYPES } from '../shared/journal/entry-types';
import { entrySchema } from '../shared/journal/entry-shape';
import { ChainVerifier, type ChainState, type FailureCode, type VerificationFailure } from '../shared/journal/verifier';
import type { Receipt, TreeHead } from '../shared/sync/receipt';
import { VERIFIED_ALONE } from '../shared/sync/server-export';
import type { Appended, Cosignature, IngestResponse } from '../shared/sync/wire';
import { currentDeviceKey, replayedNonce, type PendingNonce } from './auth';
import { nativePrimitives } from './native-primitives';
import { WireFailure } from './errors';
import { NodeSet, appendLeaves, inclusionProofs, rangeNodeKeys } from './merkle-log';
import { headTimestamp, underKey, type ServerSigner } from './server-key';
import { checkEntry, type HashedEntry } from './entry-checks';
import { PoolFailure, type EntryChecker } from './signature-pool';
import type { CustodianKey, DeviceRecord, IncidentRecord, Storage, StorageQueries, StoredEntry } from './storage/storage';
import { noNotifications, type NotificationEvent, type Notifications } from './notify/event';

const ENTRY_TYPES_BREAK_GLASS_OPENED = 'break-glass.opened';
const ENTRY_TYPES_BREAK_GLASS_CLOSED = 'break-glass.closed';
const BOTH_HALVES_OUT = 'custody.both-halves-out';

/** Verifier findings the server records as alarms but does not refuse: they describe the device's history, not forgery. */
const WARNING_CODES: ReadonlySet<FailureCode> = new Set<FailureCode>(['TIME_BACKWARDS', 'MISSING_CHECKPOINT']);

export interface IngestDeps {
  readonly storage: Storage;
  /** Orders one device's batches in this process (one queue per server). */
  readonly order: DeviceOrder;
  readonly signer: ServerSigner;
  /** Hash and signature checks, normally the worker pool started with the server. */
  readonly checker: EntryChecker;
  readonly now: () => number;
  /** Where new incidents and alarms are announced, inside the ingest transaction (default: nowhere). */
  readonly notifications?: Notifications;
}

/** Entries the break-glass review lists: emergency checkouts and explicit break-glass events. */
export function isBreakGlass(entry: Pick<SignedEntry, 'type' | 'data'>): boolean {
  return (entry.type.startsWith('checkout.') && entry.data.breakGlass === true) || entry.type.startsWith('break-glass.');
}

/** Longest session id, account or incident field the server keeps from an entry (longer ones are cut). */
const MAX_INCIDENT_TEXT = 500;
const textOf = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, MAX_INCIDENT_TEXT) : null;

/**
 * The break-glass session an entry belongs to, or null: a `break-glass.*` entry names it in
 * `data.session`, a checkout opened for it in `data.breakGlassSession` (with `breakGlass: true`).
 */
export function breakGlassSessionOf(entry: Pick<SignedEntry, 'type' | 'data'>): string | null {
  if (entry.type.startsWith('break-glass.')) return textOf(entry.data.session);
  if (entry.type === 'checkout.opened' && entry.data.breakGlass === true) return textOf(entry.data.breakGlassSession);
  return null;
}

/** The one line a chat channel shows for a new incident: the facts a person typed, never a secret. */
const incidentText = (i: IncidentRecord): string =>
  `Break-glass incident ${i.reference ?? '(no reference yet)'} on account ${i.account ?? '(unknown)'}${i.severity === null ? '' : ` (${i.severity})`}: ${i.reason ?? 'reason not synced yet'}`.slice(
    0,
    300,
  );

/** Records an alarm and, when it is new, announces it in the same transaction; returns its id or null. */
export async function raiseAlarm(
  tx: StorageQueries,
  notifications: Notifications,
  alarm: Parameters<StorageQueries['insertAlarm']>[0],
): Promise<number | null> {
  const id = await tx.insertAlarm(alarm);
  if (id === null) return null;
  const event: NotificationEvent = {
    kind: 'alarm.raised',
    subject: String(id),
    device: alarm.device,
    at: alarm.raisedAt,
    text: `${alarm.kind} alarm on device ${alarm.device.slice(0, 12)}…: ${alarm.message}`.slice(0, 300),
    detail: { kind: alarm.kind, seq: alarm.seq },
  };
  await notifications.enqueue(tx, event);
  return id;
}

/**
 * Opens or updates the incidents of a batch's new entries (docs/sync-protocol.md, "Incidents"):
 * one per (device, break-glass session), opened by the session's first synced entry, whose hash
 * is its id; later entries link to it and move its updatedAt (and outcome, on `break-glass.closed`).
 */
async function recordIncidents(
  tx: StorageQueries,
  notifications: Notifications,
  device: DeviceRecord,
  fresh: readonly { readonly entry: SignedEntry; readonly hash: string; readonly logIndex: number }[],
  now: number,
): Promise<void> {
  const bySession = new Map<string, (typeof fresh)[number][]>();
  for (const f of fresh) {
    const session = breakGlassSessionOf(f.entry);
    if (session === null) continue;
    const list = bySession.get(session) ?? [];
    list.push(f);
    bySession.set(session, list);
  }
  for (const [session, items] of bySession) {
    const facts = {
      account: null as string | null,
      reference: null as string | null,
      reason: null as string | null,
      severity: null as string | null,
      outcome: null as string | null,
    };
    for (const { entry } of items) {
      const d = entry.data;
      facts.account ??= textOf(d.account);
      if (entry.type === ENTRY_TYPES_BREAK_GLASS_OPENED) {
        facts.reference ??= textOf(d.reference);
        facts.reason ??= textOf(d.reason);
        facts.severity ??= textOf(d.severity);
      }
      if (entry.type === ENTRY_TYPES_BREAK_GLASS_CLOSED) facts.outcome = textOf(d.outcome) ?? facts.outcome;
    }
    const first = items[0]!;
    let incident = await tx.incidentBySession(device.device, session);
    if (incident === null) {
      incident = {
        id: first.hash,
        device: device.device,
        vault: device.vault,
        session,
        ...facts,
        openedAt: now,
        updatedAt: now,
        ord: first.logIndex,
      };
      if (!(await tx.insertIncident(incident))) throw new Error(`incident ${first.hash.slice(0, 12)}… could not be recorded`);
      await notifications.enqueue(tx, {
        kind: 'incident.opened',
        subject: incident.id,
        device: device.device,
        at: now,
        text: incidentText(incident),
        detail: {
          type: first.entry.type,
          session,
          account: incident.account,
          reference: incident.reference,
          severity: incident.severity,
          seq: first.entry.seq,
        },
      });
    } else {
      await tx.updateIncident(incident.id, { updatedAt: now, ...facts });
    }
    await tx.linkIncidentEntries(
      incident.id,
      device.device,
      items.map((i) => i.entry.seq),
    );
  }
}

/** A checkout a `custody.both-halves-out` entry names ({ checkout, custodian } per half). */
const checkoutIdOf = (value: unknown): string | null => {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as { checkout?: unknown }).checkout;
  return typeof id === 'string' ? id : null;
};

/**
 * BOTH_HALVES_OUT: the device recorded that both halves of an account were checked out at once
 * (electron/custody/checkouts.ts). The alarm's entries are that record and the two checkouts it
 * names, when the server holds them (in this batch or before it).
 */
async function recordBothHalvesOut(
  tx: StorageQueries,
  notifications: Notifications,
  deviceId: string,
  fresh: readonly { readonly entry: SignedEntry; readonly hash: string }[],
  now: number,
): Promise<void> {
  for (const { entry, hash } of fresh) {
    if (entry.type !== BOTH_HALVES_OUT) continue;
    const account = textOf(entry.data.account) ?? '(unknown)';
    const seqs = [entry.seq];
    const named: Record<string, string | null> = {};
    for (const half of ['password', 'mfa'] as const) {
      const checkout = checkoutIdOf(entry.data[half]);
      named[half] = checkout;
      if (checkout === null) continue;
      const inBatch = fresh.find(
        (f) => f.entry.seq < entry.seq && f.entry.type === 'checkout.opened' && f.entry.data.checkout === checkout,
      );
      const seq = inBatch?.entry.seq ?? (await tx.checkoutEntry(deviceId, checkout, entry.seq))?.seq;
      if (seq !== undefined) seqs.push(seq);
    }
    const id = await raiseAlarm(tx, notifications, {
      device: deviceId,
      kind: 'BOTH_HALVES_OUT',
      seq: entry.seq,
      message: `both halves of account ${account} were checked out at once: two people together could sign in as root`,
      evidence: JSON.stringify({ seq: entry.seq, hash, account, checkouts: named }),
      raisedAt: now,
      offeredHash: hash,
    });
    if (id !== null) await tx.linkAlarmEntries(id, deviceId, seqs);
  }
}

/**
 * An entry of a batch with its CPU-bound checks. `hashOnly`: the entry sits at or below the
 * device's head, so the server already holds an entry at its seq; only its hash was computed (a
 * resend is matched by hash, and the held entry's signatures were verified when it arrived).
 * Its signatures are verified only if it turns out to differ from the held entry.
 */
type Offered = {
  readonly entry: SignedEntry;
  readonly precomputed: HashedEntry;
  readonly hashOnly?: true;
  /** Its device signature was not verified: the batch's last checkpoint stands for it (anchoredMask). */
  readonly anchored?: true;
};

/**
 * Anchored ingest (docs/sync-protocol.md, "Anchored ingest"): which of a batch's new entries need
 * not have their device signature verified. A checkpoint carries the RFC 6962 root of every entry
 * before it, signed by the same device key: once its signature verifies and the chain verifier
 * rebuilds that root from the device's stored frontier and the batch's recomputed hashes, the
 * content and order of every entry it covers are proven as well as by their own device
 * signatures. So only the entries before the batch's last checkpoint are anchored, never one in
 * VERIFIED_ALONE; custodian signatures are verified on every entry. Undefined: verify everything.
 */
export function anchoredMask(entries: readonly SignedEntry[]): boolean[] | undefined {
  let last = -1;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (entries[i]!.type === ENTRY_TYPES.checkpoint) {
      last = i;
      break;
    }
  }
  if (last <= 0) return undefined;
  return entries.map((e, i) => i < last && !VERIFIED_ALONE.has(e.type));
}

/**
 * Thrown inside the storage transaction when an anchored batch fails the chain verifier: the
 * transaction rolls back and the batch is checked again with every signature, so what the
 * device is told (the failing seq and codes) is exactly what a full check finds.
 */
class RecheckInFull extends Error {
  override readonly name = 'RecheckInFull';
}

/** The signature pool's failures as the wire states them: never a 500 (docs/sync-protocol.md, "Errors"). */
async function checked(checker: EntryChecker, entries: readonly SignedEntry[], anchored?: readonly boolean[]) {
  try {
    return await checker.check(entries, anchored);
  } catch (error) {
    if (error instanceof PoolFailure && error.kind === 'input')
      throw new WireFailure(422, 'ENTRY_INVALID', `${error.message}: send entries as the journal stores them`);
    throw new WireFailure(
      503,
      'UNAVAILABLE',
      'the server could not check this batch right now (its signature checker failed); send it again shortly',
    );
  }
}

/**
 * One device's batches enter their storage transactions in the order they arrived at this
 * process. A client pipelines batches on separate connections: batch k+1 is verified while k is
 * written, then waits for k instead of finding a gap and being refused (which would cost the
 * client a resend and the server a second verification). A batch that arrives before its
 * predecessor with nothing of that device in flight is still refused with SEQUENCE_GAP, and so is
 * any gap between processes sharing a database; the client resends, which is always harmless.
 */
export class DeviceOrder {
  private readonly tails = new Map<string, Promise<void>>();
  /** The highest seq of any batch in each device's line. */
  private readonly highest = new Map<string, number>();

  /**
   * Takes a place in the device's line: `before` settles when every earlier batch is done; call
   * `leave` when this one is. `overlaps`: an earlier batch in the line reaches `firstSeq` (the
   * client sent those entries again, e.g. after abandoning a pipelined batch the server had
   * already taken), so this batch should wait for it before its checks, and find them held.
   */
  enter(
    device: string,
    range: { readonly firstSeq: number; readonly lastSeq: number } = { firstSeq: Infinity, lastSeq: -1 },
  ): { readonly first: boolean; readonly overlaps: boolean; readonly before: Promise<void>; readonly leave: () => void } {
    const previous = this.tails.get(device);
    const reached = this.highest.get(device);
    let finish!: () => void;
    const mine = new Promise<void>((resolve) => (finish = resolve));
    const tail = previous === undefined ? mine : previous.then(() => mine);
    this.tails.set(device, tail);
    this.highest.set(device, Math.max(reached ?? -1, range.lastSeq));
    return {
      first: previous === undefined,
      overlaps: previous !== undefined && reached !== undefined && range.firstSeq <= reached,
      before: previous ?? Promise.resolve(),
      leave: () => {
        finish();
        if (this.tails.get(device) === tail) {
          this.tails.delete(device);
          this.highest.delete(device);
        }
      },
    };
  }

  /** Devices with a batch in flight (for tests: the line empties when every batch is done). */
  get size(): number {
    return this.tails.size;
  }
}

const gapFailure = (headSeq: number): WireFailure =>
  headSeq < 0
    ? new WireFailure(409, 'SEQUENCE_GAP', 'the server holds nothing for this device yet; send from seq 0', { expected: 0 })
    : new WireFailure(409, 'SEQUENCE_GAP', `the server holds this device's journal up to seq ${headSeq}; send from seq ${headSeq + 1}`, {
        expected: headSeq + 1,
      });

/**
 * Shape check, then hash and signatures (in the signature pool's workers): the CPU work done
 * before the storage transaction starts. The chain verifier is handed these results, so no
 * signature is verified twice.
 */
async function precheck(
  raw: readonly Record<string, unknown>[],
  device: string,
  heldUpTo: number,
  checker: EntryChecker,
  mode: 'anchored' | 'full',
): Promise<Offered[]> {
  raw.forEach((r, i) => {
    const seq = r.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
      throw new WireFailure(422, 'ENTRY_INVALID', `entries[${i}].seq is not a sequence number`);
    if (r.device !== device)
      throw new WireFailure(422, 'ENTRY_INVALID', `entries[${i}] names another device: a device uploads only its own journal`);
    if (!Array.isArray(r.sigs) || typeof r.hash !== 'string')
      throw new WireFailure(422, 'ENTRY_INVALID', `entries[${i}] has no hash or signatures`);
  });
  for (let i = 1; i < raw.length; i++) {
    if (raw[i]!.seq !== (raw[i - 1]!.seq as number) + 1)
      throw new WireFailure(422, 'ENTRY_INVALID', 'a batch must hold consecutive sequence numbers in ascending order');
  }
  const entries = raw as unknown as readonly SignedEntry[];
  // Entries the server already holds a seq for (a resend, or a conflict) are hashed here; only
  // the rest go to the signature workers, so a resent batch is not verified a second time.
  const held = entries.filter((e) => e.seq <= heldUpTo).length;
  const fresh = entries.slice(held);
  const anchored = mode === 'anchored' ? anchoredMask(fresh) : undefined;
  const checks = [...entries.slice(0, held).map((e) => checkEntry(e, false)), ...(await checked(checker, fresh, anchored))];
  return entries.map((entry, i): Offered => {
    const check = checks[i]!;
    if ('error' in check) throw new WireFailure(422, 'ENTRY_INVALID', `entries[${i}] cannot be hashed: ${check.error}`);
    if (i < held) return { entry, precomputed: check, hashOnly: true };
    return anchored?.[i - held] === true ? { entry, precomputed: check, anchored: true } : { entry, precomputed: check };
  });
}

const evidenceOf = (held: StoredEntry, offered: SignedEntry): { seq: number; held: unknown; offered: unknown } => ({
  seq: held.seq,
  held: JSON.parse(held.body) as unknown,
  offered,
});

const entryInvalid = (what: string, failures: readonly VerificationFailure[]): WireFailure =>
  new WireFailure(422, 'ENTRY_INVALID', `${what}: ${failures.map((f) => `${f.code} (${f.reason})`).join('; ')}`, {
    failures: failures.slice(0, 10),
  });

/**
 * Why an entry offered at a seq the server holds with another hash is not the device's own
 * signed entry, or [] when it is: well formed, its hash recomputed, every signature valid, the
 * first by a key the server holds for this device (the device key of the held entry at that seq,
 * or the device's current key). Only such an entry becomes fork or rollback evidence: anything
 * else is refused like a forged new entry and recorded nowhere, so what reviewers are shown as
 * the device's other history is always signed by the device.
 */
function conflictProblems(o: Offered, held: SignedEntry, currentKey: string): VerificationFailure[] {
  const seq = o.entry.seq;
  const shape = entrySchema.safeParse(o.entry);
  if (!shape.success) {
    const issue = shape.error.issues[0];
    return [
      {
        seq,
        code: 'MALFORMED_ENTRY',
        reason: `${issue && issue.path.length > 0 ? issue.path.join('.') : 'entry'}: ${issue?.message ?? 'does not match the entry format'}`,
      },
    ];
  }
  const problems: VerificationFailure[] = [];
  if (o.entry.hash !== o.precomputed.hash)
    problems.push({
      seq,
      code: 'HASH_MISMATCH',
      reason: `stated hash ${o.entry.hash.slice(0, 12)}… but the entry hashes to ${o.precomputed.hash.slice(0, 12)}…: a field was changed`,
    });
  o.precomputed.signatures.forEach((valid, i) => {
    if (!valid)
      problems.push({ seq, code: 'BAD_SIGNATURE', reason: `signature ${i} by ${o.entry.sigs[i]!.key.slice(0, 12)}… does not verify` });
  });
  const deviceKey = o.entry.sigs[0]!.key;
  if (deviceKey !== held.sigs[0]?.key && deviceKey !== currentKey)
    problems.push({
      seq,
      code: 'MISSING_DEVICE_SIGNATURE',
      reason: `the first signature is by ${deviceKey.slice(0, 12)}…, not a key of this device`,
    });
  return problems;
}

/**
 * The reverse of the rule that a rotation may not name a custodian key: a custodian may not be
 * enrolled with any key the device ever signed as (its genesis key, or a key a rotation named),
 * not only its current one, or one key would speak both as the device and as a custodian.
 * MALFORMED_ENTRY, as the journal format rules for a key already in use; null when it is not one.
 */
function formerDeviceKey(entry: SignedEntry, deviceKeys: ReadonlySet<string>): VerificationFailure | null {
  const key = entry.data.signingKey;
  if (typeof key !== 'string' || !deviceKeys.has(key)) return null;
  return {
    seq: entry.seq,
    code: 'MALFORMED_ENTRY',
    reason: `signing key ${key.slice(0, 12)}… is a device key this journal used: one key never speaks both as the device and as a custodian`,
  };
}

/** A fork or rollback found inside the transaction; recorded as an alarm after it rolls back. */
class ChainConflict extends WireFailure {
  constructor(
    readonly kind: 'FORK' | 'ROLLBACK',
    message: string,
    readonly conflict: { seq: number; held: unknown; offered: unknown },
    /** The offered entry's hash: with (device, kind, seq) it tells a resend of this conflict from another one. */
    readonly offeredHash: string,
  ) {
    super(409, kind, message, conflict);
  }
}

/**
 * Ingests one batch for an authenticated device, atomically: resent entries are matched by
 * (device, seq) and hash and get receipts under the server's current key (see heldReceipts);
 * new entries must continue the server's copy of the chain and pass the journal verifier; a
 * different entry at a held seq, well formed and signed by the device, is a fork or a rollback
 * (409 with both entries, kept as an alarm; see conflictProblems). Accepted entries go into the
 * org-wide log under one new signed tree head. With `receipts: 'each'` every new entry gets a
 * receipt proving its inclusion; with 'batch' they share one block (the head, where they start,
 * and the log's frontier before them) from which the client derives the same receipts.
 */
export async function ingestBatch(
  deps: IngestDeps,
  device: DeviceRecord,
  raw: readonly Record<string, unknown>[],
  receipts: 'each' | 'batch' = 'each',
  nonce?: PendingNonce,
): Promise<IngestResponse> {
  const seqOf = (r: Record<string, unknown> | undefined): number =>
    typeof r?.seq === 'number' && Number.isSafeInteger(r.seq) ? r.seq : -1;
  const turn = deps.order.enter(device.device, { firstSeq: seqOf(raw[0]), lastSeq: seqOf(raw[raw.length - 1]) });
  try {
    const first = raw[0]?.seq;
    if (turn.first && typeof first === 'number' && Number.isSafeInteger(first) && first > (device.headSeq ?? -1) + 1) {
      // Nothing of this device is in flight here and the batch starts beyond its head: it cannot
      // apply, so it is refused before any signature is verified. The head read when the request
      // was authenticated may predate a batch that finished since, so it is read again first.
      const headSeq = (await deps.storage.queries.getDevice(device.device))?.headSeq ?? -1;
      if (first > headSeq + 1) throw gapFailure(headSeq);
    }
    // A batch is ordered and consecutive: entries up to the device's head are held. A batch that
    // overlaps one still in the line waits for it first and reads the head it left, so entries
    // sent twice are matched by hash, not verified twice.
    let heldUpTo = device.headSeq ?? -1;
    if (turn.overlaps) {
      await turn.before;
      heldUpTo = (await deps.storage.queries.getDevice(device.device))?.headSeq ?? heldUpTo;
    }
    const offered = await precheck(raw, device.device, heldUpTo, deps.checker, 'anchored');
    await turn.before;
    try {
      return await ingestChecked(deps, device, offered, receipts, nonce);
    } catch (error) {
      if (!(error instanceof RecheckInFull)) throw error;
    }
    // The anchored batch failed: every signature is checked now, so the refusal names what a
    // full check finds (a forged entry's own BAD_SIGNATURE, not only its checkpoint's root).
    return await ingestChecked(deps, device, await precheck(raw, device.device, heldUpTo, deps.checker, 'full'), receipts, nonce);
  } finally {
    turn.leave();
  }
}

async function ingestChecked(
  deps: IngestDeps,
  device: DeviceRecord,
  offered: readonly Offered[],
  receipts: 'each' | 'batch',
  nonce: PendingNonce | undefined,
): Promise<IngestResponse> {
  try {
    return await deps.storage.transaction(
      async (tx) => {
        // The request's nonce commits with its batch; a replay that got here first has it already.
        if (nonce !== undefined && !(await tx.rememberNonce(nonce.device, nonce.nonce, nonce.expiresAt))) throw replayedNonce();
        return ingestInTransaction(deps, tx, device.device, offered, receipts);
      },
      { log: true },
    );
  } catch (error) {
    if (error instanceof ChainConflict) {
      const conflict = error;
      await deps.storage.transaction((tx) =>
        raiseAlarm(tx, deps.notifications ?? noNotifications, {
          device: device.device,
          kind: conflict.kind,
          seq: conflict.conflict.seq,
          message: conflict.message,
          evidence: JSON.stringify(conflict.conflict),
          raisedAt: deps.now(),
          offeredHash: conflict.offeredHash,
        }),
      );
    }
    throw error;
  }
}

async function ingestInTransaction(
  deps: IngestDeps,
  tx: StorageQueries,
  deviceId: string,
  offered: readonly Offered[],
  receiptMode: 'each' | 'batch',
): Promise<IngestResponse> {
  const { signer } = deps;
  const now = deps.now();
  const device = await tx.getDevice(deviceId);
  if (device === null) throw new WireFailure(401, 'UNKNOWN_DEVICE', 'this device is not enrolled');
  const headSeq = device.headSeq ?? -1;
  const first = offered[0]!.entry.seq;
  const last = offered[offered.length - 1]!.entry.seq;

  // Entries the server already holds: identical ones are resends, anything else is a conflict.
  const held = first <= headSeq ? await tx.entriesBySeq(deviceId, first, Math.min(last, headSeq)) : [];
  const heldBySeq = new Map(held.map((e) => [e.seq, e]));
  for (const o of offered) {
    const h = heldBySeq.get(o.entry.seq);
    if (h === undefined || h.hash === o.precomputed.hash) continue;
    const parent = JSON.parse(h.body) as SignedEntry;
    // A conflict is evidence only when the offered entry is really signed: verify it now.
    const full = o.hashOnly ? checkEntry(o.entry) : o.precomputed;
    if ('error' in full) throw new WireFailure(422, 'ENTRY_INVALID', `seq ${h.seq} cannot be hashed: ${full.error}`);
    const problems = conflictProblems({ entry: o.entry, precomputed: full }, parent, currentDeviceKey(device));
    if (problems.length > 0)
      throw entryInvalid(`seq ${h.seq} differs from the entry the server holds, but is not the device's signed entry`, problems);
    if (h.seq > 0 && parent.prev === o.entry.prev) {
      throw new ChainConflict(
        'ROLLBACK',
        `seq ${h.seq} differs from the entry the server holds but continues the same parent: the journal was restored from an older copy and rewritten`,
        evidenceOf(h, o.entry),
        o.precomputed.hash,
      );
    }
    throw new ChainConflict(
      'FORK',
      `seq ${h.seq} differs from the entry the server holds: this is a different history of the device's journal`,
      evidenceOf(h, o.entry),
      o.precomputed.hash,
    );
  }

  const fresh = offered.filter((o) => o.entry.seq > headSeq);
  const receipts: Receipt[] = [];
  let appendedBlock: Appended | undefined;
  /** The head receipts of entries already held are issued under: always one the current key signed. */
  let resendHead: TreeHead | null = null;
  let head = { seq: device.headSeq, hash: device.headHash };
  const nodes = new NodeSet(tx);
  if (fresh.length > 0) {
    if (fresh[0]!.entry.seq !== headSeq + 1) throw gapFailure(headSeq);
    const verifier = new ChainVerifier({
      primitives: nativePrimitives,
      ...(device.chainState === null ? {} : { state: JSON.parse(device.chainState) as ChainState }),
    });
    const warnings: VerificationFailure[] = [];
    /** Every device key this journal used, read when a batch first enrols a custodian (rare). */
    let deviceKeys: Set<string> | null = null;
    const rotatedHere: string[] = [];
    for (const o of fresh) {
      if (o.entry.vault !== device.vault)
        throw new WireFailure(422, 'ENTRY_INVALID', `seq ${o.entry.seq} names another vault than the one this device enrolled with`);
      if (o.entry.type === ENTRY_TYPES.custodianEnrolled) {
        deviceKeys ??= new Set([deviceId, ...(await tx.rotatedDeviceKeys(deviceId))]);
        for (const k of rotatedHere.splice(0)) deviceKeys.add(k);
        const problem = formerDeviceKey(o.entry, deviceKeys);
        if (problem !== null) throw entryInvalid(`seq ${o.entry.seq} fails verification`, [problem]);
      } else if (o.entry.type === ENTRY_TYPES.deviceKeyRotated && typeof o.entry.data.newDeviceKey === 'string') {
        rotatedHere.push(o.entry.data.newDeviceKey);
      }
      const failures = verifier.push(o.entry, o.precomputed);
      const hard = failures.filter((f) => !WARNING_CODES.has(f.code));
      if (hard.length > 0) {
        if (fresh.some((f) => f.anchored === true)) throw new RecheckInFull();
        throw entryInvalid(`seq ${o.entry.seq} fails verification`, hard);
      }
      warnings.push(...failures);
    }
    const latest = await tx.latestTreeHead();
    const size = latest?.size ?? 0;
    const appended = await appendLeaves(
      size,
      fresh.map((o) => o.precomputed.hash),
      nodes,
    );
    const treeHead = signer.signTreeHead({ size: appended.size, root: appended.root, timestamp: headTimestamp(now, latest) });
    await tx.insertLogNodes(appended.nodes);
    await tx.insertEntries(
      fresh.map((o, i) => ({
        device: deviceId,
        seq: o.entry.seq,
        hash: o.precomputed.hash,
        type: o.entry.type,
        time: o.entry.time,
        actor: o.entry.actor,
        body: o.precomputed.body,
        logIndex: size + i,
        receiptSize: appended.size,
        receivedAt: now,
        breakGlass: isBreakGlass(o.entry),
      })),
    );
    await tx.insertTreeHead(treeHead);
    await recordCustodianKeys(
      tx,
      device.vault,
      fresh.map((o) => o.entry),
    );
    const notifications = deps.notifications ?? noNotifications;
    const logged = fresh.map((o, i) => ({ entry: o.entry, hash: o.precomputed.hash, logIndex: size + i }));
    await recordIncidents(tx, notifications, device, logged, now);
    await recordBothHalvesOut(tx, notifications, deviceId, logged, now);
    for (const w of warnings) {
      await raiseAlarm(tx, notifications, {
        device: deviceId,
        kind: 'JOURNAL_WARNING',
        seq: w.seq,
        message: `${w.code}: ${w.reason}`,
        evidence: JSON.stringify(w),
        raisedAt: now,
      });
    }
    // The device found this server's signed log inconsistent with the heads it held before
    // (restored from a backup, or rewritten): its signed record is the evidence a reviewer sees.
    for (const o of fresh.filter((f) => f.entry.type === SYNC_ENTRY_TYPES.serverLogInconsistent)) {
      const reason =
        typeof o.entry.data.reason === 'string' && /^[A-Z_]{1,40}$/.test(o.entry.data.reason) ? o.entry.data.reason : 'UNKNOWN';
      const message = `${reason}: the device found the server's log inconsistent with a tree head it held before`;
      await raiseAlarm(tx, notifications, {
        device: deviceId,
        kind: 'LOG_INCONSISTENT',
        seq: o.entry.seq,
        message,
        evidence: JSON.stringify(o.entry.data),
        raisedAt: now,
      });
    }
    const tail = fresh[fresh.length - 1]!;
    await tx.setDeviceHead(deviceId, tail.entry.seq, tail.precomputed.hash, JSON.stringify(verifier.state()), now);
    head = { seq: tail.entry.seq, hash: tail.precomputed.hash };
    if (receiptMode === 'batch') {
      // appendLeaves loaded the frontier before the batch: the client folds its own hashes onto it.
      appendedBlock = { treeHead, logStart: size, frontier: rangeNodeKeys(0, size).map((k) => nodes.get(k)) };
    } else {
      const proofs = await inclusionProofs(
        fresh.map((_, i) => size + i),
        appended.size,
        nodes,
      );
      fresh.forEach((o, i) =>
        receipts.push(receiptOf(deviceId, o.entry.seq, o.precomputed.hash, size + i, treeHead, proofs.get(size + i)!)),
      );
    }
    resendHead = treeHead;
  } else {
    await tx.touchDevice(deviceId, now);
    if (held.length > 0) resendHead = await currentKeyHead(tx, signer, now);
  }
  if (resendHead !== null && held.length > 0) receipts.unshift(...(await heldReceipts(held, resendHead, nodes)));
  const cosignatures: Cosignature[] = offered
    .filter((o) => o.entry.type === ENTRY_TYPES.checkpoint)
    .map((o) => ({ seq: o.entry.seq, entryHash: o.precomputed.hash, signature: signer.cosignCheckpoint(o.precomputed.hash) }));
  if (head.seq === null || head.hash === null) throw gapFailure(-1);
  return {
    receipts,
    ...(appendedBlock === undefined ? {} : { appended: appendedBlock }),
    cosignatures,
    head: { seq: head.seq, hash: head.hash },
  };
}

const receiptOf = (
  device: string,
  seq: number,
  entryHash: string,
  logIndex: number,
  treeHead: TreeHead,
  inclusionProof: string[],
): Receipt => ({
  device,
  seq,
  entryHash,
  logIndex,
  treeHead,
  inclusionProof,
});

/**
 * Receipts of entries sent again, all under `head` (which holds them) with audit paths against
 * it: one proof computation, so one or two node reads for the whole batch. Never the receipt
 * stored the first time, whose head an earlier server key may have signed: after a key rotation
 * (perhaps because the old key leaked) a client trusts only the new key, and a device whose
 * answer was lost before the rotation must still get receipts it can verify.
 */
async function heldReceipts(held: readonly StoredEntry[], head: TreeHead, nodes: NodeSet): Promise<Receipt[]> {
  const proofs = await inclusionProofs(
    held.map((e) => e.logIndex),
    head.size,
    nodes,
  );
  return held.map((e) => receiptOf(e.device, e.seq, e.hash, e.logIndex, head, proofs.get(e.logIndex)!)).sort((a, b) => a.seq - b.seq);
}

/**
 * The log's latest tree head under the current key, for a batch that appends nothing: the stored
 * head when this key signed it (a resend with nothing appended since gets its earlier receipts
 * again), else the same size and root signed now (underKey). That head is not stored: it states
 * nothing the stored one does not, and the next append stores a head under this key.
 */
async function currentKeyHead(tx: StorageQueries, signer: ServerSigner, now: number): Promise<TreeHead> {
  const latest = await tx.latestTreeHead();
  if (latest === null) throw new Error('the log holds entries but no tree head is stored');
  return underKey(signer, latest, now);
}

/** Keeps the vault's custodian keys as its journal declares them, for the record: reviewer rights come only from operator grants (reviewers table). */
async function recordCustodianKeys(tx: StorageQueries, vault: string, entries: readonly SignedEntry[]): Promise<void> {
  const enrolled: CustodianKey[] = [];
  for (const e of entries) {
    const d = e.data;
    if (e.type === ENTRY_TYPES.custodianEnrolled && typeof d.signingKey === 'string' && typeof d.custodian === 'string') {
      enrolled.push({
        vault,
        signingKey: d.signingKey,
        custodian: d.custodian,
        role: typeof d.role === 'string' ? d.role : '',
        source: 'journal',
      });
    } else if (e.type === ENTRY_TYPES.custodianRevoked && typeof d.signingKey === 'string') {
      if (enrolled.length > 0) await tx.insertCustodianKeys(enrolled.splice(0));
      await tx.revokeCustodianKey(vault, d.signingKey);
    }
  }
  if (enrolled.length > 0) await tx.insertCustodianKeys(enrolled);
}

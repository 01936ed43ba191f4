import { fileURLToPath } from 'node:url';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import { ENTRY_TYPES, SYNC_ENTRY_TYPES } from '../../shared/journal/entry-types';
import { frontierRoot, verifyConsistency } from '../../shared/journal/merkle';
import {
  parsedReceiptProblem,
  receiptBlockProblem,
  verifyCheckpointCosignature,
  type Receipt,
  type ReceiptBlock,
  type TreeHead,
} from '../../shared/sync/receipt';
import { nativePrimitives } from '../../server/native-primitives';
import {
  consistencyResponseSchema,
  enrolResponseSchema,
  enrolSignatureMessage,
  ingestResponseSchema,
  type Appended,
  type Cosignature,
  LEGACY_MAX_BATCH_ENTRIES,
  MAX_BATCH_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_ROTATIONS_PER_PROOF,
  ROTATION_HEADER,
  rosterMemberSchema,
  serverKeyFingerprint,
  serverKeyResponseSchema,
  wireErrorSchema,
} from '../../shared/sync/wire';
import { migrate, type Db } from '../base/database';
import type { JournalStore } from '../journal/store';
import { expectOk, sendRequest, ServerRefusal, ServerUnreachable, type WireResponse } from './transport';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** The journal operations the sync client uses (a JournalStore provides them). */
export type SyncJournal = Pick<
  JournalStore,
  'vaultId' | 'head' | 'read' | 'addReceipt' | 'addReceiptBlock' | 'query' | 'append' | 'checkpointTail'
>;

export type SyncState = 'not-enrolled' | 'idle' | 'syncing' | 'offline' | 'error';

/** What sync:status and app:status show. Never a secret: the server key is public. */
export interface SyncStatus {
  readonly state: SyncState;
  readonly pending: number;
  readonly lastError: string | null;
  readonly serverFingerprint: string | null;
  readonly serverUrl: string | null;
  readonly ackedSeq: number | null;
  readonly lastSuccessAt: number | null;
  readonly lastTreeSize: number | null;
  readonly nextAttemptAt: number | null;
  /** The latest time this device found the server's signed log inconsistent with a head it held (kept: it is history). */
  readonly serverLogInconsistency: ServerLogInconsistency | null;
}

/** Why a server's signed log is not an extension of the one this device saw before. */
export type LogInconsistencyReason = 'LOG_SHRANK' | 'ROOT_CHANGED' | 'OLD_HEAD_MISSING' | 'PROOF_INVALID';

/** A `sync.server-log-inconsistent` journal entry as sync status shows it. */
export interface ServerLogInconsistency {
  readonly code: 'LOG_INCONSISTENT';
  readonly reason: LogInconsistencyReason;
  readonly message: string;
  /** The journal entry that records it, and when. */
  readonly seq: number;
  readonly time: number;
}

/** A head that does not extend the stored one: what the journal entry records. */
interface LogFinding {
  readonly reason: LogInconsistencyReason;
  readonly message: string;
  readonly previous: TreeHead;
  readonly current: TreeHead;
}

/** A batch's verified answer, ready to store. */
interface VerifiedBatch {
  /** Receipts the server sent one by one (for entries it already held). */
  readonly receipts: readonly Receipt[];
  /** The verified block of the entries the batch appended, stored as one row. */
  readonly block: ReceiptBlock | null;
  readonly cosignatures: readonly Cosignature[];
  readonly lastHead: TreeHead | null;
  /** The log's size and root where this batch was appended, derived from the verified frontier, and the head the batch was appended under. */
  readonly before: { readonly size: number; readonly root: string; readonly after: TreeHead } | null;
}

export interface SyncClientOptions {
  readonly db: Db;
  readonly journal: SyncJournal;
  /** The device's current key: signs every request (the same key that signs new journal entries, the newer one after a rotation). */
  readonly signer: EntrySigner;
  readonly batchSize?: number;
  /** Batches on the wire at once (default 2; 1 waits for each answer before sending the next). */
  readonly pipelineDepth?: number;
  /** Back-off after a failure: base·2^failures, capped, with jitter in [½, 1]. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Pause between successful rounds of the background loop. */
  readonly intervalMs?: number;
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

interface StateRow {
  server_url: string;
  server_key: string;
  server_fingerprint: string;
  acked_seq: number;
  last_tree_head: string | null;
  last_success_at: number | null;
  last_error: string | null;
}

/** Refusals that will not clear by retrying soon: the back-off jumps to its maximum. */
const PERMANENT = new Set([
  'FORK',
  'ROLLBACK',
  'ENTRY_INVALID',
  'DEVICE_REVOKED',
  'UNKNOWN_DEVICE',
  'WRONG_DEVICE',
  'BAD_REQUEST_SIGNATURE',
  'PAYLOAD_TOO_LARGE',
]);

/**
 * Serialized entries per batch, well below the server's default body limit (MAX_BATCH_BYTES): a
 * server configured lower answers 413, and the client halves the batch until it fits.
 */
const BATCH_BYTES = Math.floor((MAX_BATCH_BYTES * 3) / 4);

/**
 * Offline-first sync of one device's journal: a background queue that uploads unsent entries
 * in resumable batches, verifies every receipt against the server key pinned at enrolment
 * before storing it, and backs off exponentially with jitter while the server is away.
 * Resending is always safe: the server is idempotent by (device, seq).
 */
export class SyncClient {
  private readonly batchSize: number;
  private readonly pipelineDepth: number;
  /** The server refused a batch of more than LEGACY_MAX_BATCH_ENTRIES as malformed: an earlier version's limit. */
  private legacyServer = false;
  private knownDeviceId: string | null = null;
  private readonly backoff: { readonly baseMs: number; readonly maxMs: number };
  private readonly now: () => number;
  private readonly random: () => number;
  private state: SyncState;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private nextAttemptAt: number | null = null;
  private started = false;

  constructor(private readonly options: SyncClientOptions) {
    migrate(options.db, 'sync', MIGRATIONS);
    this.batchSize = Math.min(options.batchSize ?? MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES);
    this.pipelineDepth = Math.max(1, Math.min(options.pipelineDepth ?? 2, 8));
    this.backoff = options.backoff ?? { baseMs: 1_000, maxMs: 5 * 60_000 };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.state = this.row() === null ? 'not-enrolled' : 'idle';
  }

  /**
   * Registers this device with a one-time token, signed by the device key (proof of possession),
   * and pins the server key it answers with. Given the fingerprint a person had out of band (as
   * for repin), the server's key is checked before the token is sent, and nothing is stored when
   * it differs.
   */
  async enroll(serverUrl: string, token: string, expectedFingerprint?: string): Promise<SyncStatus> {
    if (this.row() !== null) throw new HalfkeyError('CONFLICT', 'This vault is already enrolled with a sync server.');
    const vault = this.options.journal.vaultId();
    if (vault === null) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'Create the vault before enrolling it with a sync server.');
    let url: URL;
    try {
      url = new URL(serverUrl);
    } catch {
      throw new HalfkeyError('INVALID_PAYLOAD', 'The server URL is not a URL.', { field: 'url' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new HalfkeyError('INVALID_PAYLOAD', 'The server URL must be http(s).', { field: 'url' });
    const wanted = expectedFingerprint === undefined ? null : fingerprintDigits(expectedFingerprint);
    const refuseKey = (fingerprint: string): never => {
      throw new HalfkeyError(
        'POLICY_REFUSED',
        `The server presents a key with fingerprint ${fingerprint}, not the one given (${expectedFingerprint?.trim()}): nothing was enrolled or pinned. Check the fingerprint with the server operator.`,
      );
    };
    if (wanted !== null) {
      // Before the token leaves this device: an impostor at this URL never sees it.
      const { fingerprint } = await this.presentedKey(url.origin);
      if (fingerprint.replace(/ /g, '') !== wanted) refuseKey(fingerprint);
    }
    const roster = this.options.journal
      .query({ type: ENTRY_TYPES.custodianEnrolled })
      .map((e) =>
        rosterMemberSchema.safeParse({
          custodian: e.data.custodian,
          signingKey: e.data.signingKey,
          role: typeof e.data.role === 'string' && e.data.role.length > 0 ? e.data.role : 'custodian',
        }),
      )
      .flatMap((r) => (r.success ? [r.data] : []));
    let answer: unknown;
    try {
      const device = this.deviceId();
      // Signed by the key that signs now; after a rotation before enrolment, the rotation entries vouch for it.
      const signature = Buffer.from(this.options.signer.sign(enrolSignatureMessage({ token, vault, device }))).toString('hex');
      answer = expectOk(
        await sendRequest(url.origin, {
          method: 'POST',
          path: '/v1/enrol',
          json: { token, vault, device, roster, signature },
          headers: this.rotationProof(-1),
        }),
      );
    } catch (error) {
      throw syncError('Enrolment failed', error);
    }
    const parsed = enrolResponseSchema.safeParse(answer);
    if (!parsed.success || parsed.data.device !== this.deviceId())
      throw new HalfkeyError('SYNC_FAILED', 'The server answered the enrolment with something that is not an enrolment response.');
    const fingerprint = serverKeyFingerprint(parsed.data.serverKey);
    // The key that answered the enrolment must be the one checked (another process behind the URL could hold another).
    if (wanted !== null && fingerprint.replace(/ /g, '') !== wanted) refuseKey(fingerprint);
    this.options.db
      .prepare('INSERT INTO sync_state (id, server_url, server_key, server_fingerprint, enrolled_at) VALUES (1, ?, ?, ?, ?)')
      .run(url.origin, parsed.data.serverKey, fingerprint, this.now());
    this.state = 'idle';
    if (this.started) this.schedule(0);
    return this.status();
  }

  status(): SyncStatus {
    const row = this.row();
    const head = this.options.journal.head();
    const acked = row?.acked_seq ?? -1;
    const tree = row?.last_tree_head ? (JSON.parse(row.last_tree_head) as TreeHead) : null;
    return {
      state: row === null ? 'not-enrolled' : this.state,
      pending: head === null ? 0 : Math.max(0, head.seq - acked),
      lastError: row?.last_error ?? null,
      serverFingerprint: row?.server_fingerprint ?? null,
      serverUrl: row?.server_url ?? null,
      ackedSeq: row === null || acked < 0 ? null : acked,
      lastSuccessAt: row?.last_success_at ?? null,
      lastTreeSize: tree?.size ?? null,
      nextAttemptAt: this.nextAttemptAt,
      serverLogInconsistency: row === null ? null : this.lastInconsistency(),
    };
  }

  /** The key a server presents now (`GET /v1/server-key`) and its fingerprint; SYNC_FAILED when it cannot be fetched or is not a key. */
  private async presentedKey(origin: string): Promise<{ key: string; fingerprint: string }> {
    let answer: unknown;
    try {
      answer = expectOk(
        await sendRequest(origin, {
          method: 'GET',
          path: '/v1/server-key',
          ...(this.options.requestTimeoutMs === undefined ? {} : { timeoutMs: this.options.requestTimeoutMs }),
        }),
      );
    } catch (error) {
      throw syncError('Fetching the server key failed', error);
    }
    const parsed = serverKeyResponseSchema.safeParse(answer);
    if (!parsed.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered with something that is not its key.');
    return { key: parsed.data.serverKey, fingerprint: serverKeyFingerprint(parsed.data.serverKey) };
  }

  /**
   * Pins the server's new key after the operator rotated it (docs/operations.md): fetches the key
   * the server signs with now and pins it only if its fingerprint is the one a person was given
   * out of band, and journals the change (`sync.server-key-changed`, old and new key) in the same
   * transaction. Receipts already stored keep the key they were verified under.
   */
  async repin(expectedFingerprint: string): Promise<SyncStatus> {
    const row = this.row();
    if (row === null) throw new HalfkeyError('SYNC_FAILED', 'This vault is not enrolled with a sync server: enrol it first.');
    const wanted = fingerprintDigits(expectedFingerprint);
    const { key, fingerprint } = await this.presentedKey(row.server_url);
    if (key === row.server_key)
      throw new HalfkeyError(
        'CONFLICT',
        `The server still signs with the pinned key (fingerprint ${row.server_fingerprint}): nothing to re-pin.`,
      );
    if (fingerprint.replace(/ /g, '') !== wanted) {
      throw new HalfkeyError(
        'POLICY_REFUSED',
        `The server now presents a key with fingerprint ${fingerprint}, not the one given (${expectedFingerprint.trim()}): the key stays pinned to ${row.server_fingerprint}. Check the fingerprint with the server operator.`,
      );
    }
    this.options.db.transaction(() => {
      this.options.journal.append({
        type: SYNC_ENTRY_TYPES.serverKeyChanged,
        data: { previousKey: row.server_key, serverKey: key, serverUrl: row.server_url },
      });
      this.options.db
        .prepare('UPDATE sync_state SET server_key = ?, server_fingerprint = ?, last_tree_head = NULL, last_error = NULL WHERE id = 1')
        .run(key, fingerprint);
    })();
    return this.status();
  }

  /** The server this vault enrolled with and the key pinned then, or null before enrolment. */
  pinnedServer(): { readonly url: string; readonly key: string; readonly fingerprint: string } | null {
    const row = this.row();
    return row === null ? null : { url: row.server_url, key: row.server_key, fingerprint: row.server_fingerprint };
  }

  /** Starts the background loop (idempotent). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  /** Stops the loop and waits for a round in flight. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.nextAttemptAt = null;
    await this.running;
  }

  /** Runs one round now (waiting for one in flight) and returns the status after it. */
  async syncNow(): Promise<SyncStatus> {
    if (this.row() === null) throw new HalfkeyError('SYNC_FAILED', 'This vault is not enrolled with a sync server: enrol it first.');
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round();
    return this.status();
  }

  private schedule(delayMs: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextAttemptAt = this.now() + delayMs;
    this.timer = setTimeout(() => void this.round(), delayMs);
    this.timer.unref();
  }

  private round(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      if (this.row() === null) return;
      this.state = 'syncing';
      try {
        await this.uploadAll();
        this.failures = 0;
        this.state = 'idle';
        this.setError(null);
        this.schedule(this.options.intervalMs ?? 30_000);
      } catch (error) {
        this.failures += 1;
        const unreachable =
          error instanceof ServerUnreachable || (error instanceof ServerRefusal && (error.status >= 500 || error.code === 'RATE_LIMITED'));
        this.state = unreachable ? 'offline' : 'error';
        this.setError(error instanceof Error ? error.message : 'sync failed');
        const permanent = error instanceof ServerRefusal && PERMANENT.has(error.code);
        const ceiling = permanent
          ? this.backoff.maxMs
          : Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(this.failures - 1, 30));
        this.schedule(Math.round(ceiling * (0.5 + this.random() / 2)));
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Uploads every unsent entry, batch by batch; each batch's receipts commit before the next
   * batch's do. Up to `pipelineDepth` batches are on the wire at once (in order, on separate
   * connections), so the server verifies batch k+1 while it writes batch k and this side checks
   * k's receipts (the server makes k+1 wait for k). A server that takes k+1 before k answers
   * SEQUENCE_GAP: if k was accepted meanwhile, that answer is older than k's receipts, so k+1 is
   * simply sent again; a gap for the first batch in flight means the server holds less than this
   * device believes, and the round resends from where it stands. Resending is always harmless
   * (idempotent by device and seq). A batch is capped by entries and by serialized bytes; a server
   * whose body limit is lower answers 413, and the batch is halved and sent again.
   */
  private async uploadAll(): Promise<void> {
    let cap = this.legacyServer ? Math.min(this.batchSize, LEGACY_MAX_BATCH_ENTRIES) : this.batchSize;
    // The backlog ends on a checkpoint, and every batch is cut at one (sendFrom): the server then
    // verifies the checkpoint's device signature and root instead of each entry's (anchored ingest).
    const start = this.row();
    const tip = this.options.journal.head();
    if (start !== null && tip !== null && tip.seq > start.acked_seq) this.options.journal.checkpointTail();
    const inFlight: { readonly batch: readonly SignedEntry[]; readonly response: Promise<WireResponse>; readonly ahead: boolean }[] = [];
    // Batches sent ahead whose answers nobody reads: resending them later is harmless.
    const abandon = (): void => void inFlight.splice(0);
    try {
      for (;;) {
        const row = this.row();
        if (row === null) return;
        if (inFlight.length === 0) {
          const first = this.sendFrom(row, row.acked_seq + 1, cap);
          if (first === null) return;
          inFlight.push({ ...first, ahead: false });
        }
        while (inFlight.length < this.pipelineDepth) {
          const tail = inFlight[inFlight.length - 1]!.batch;
          const more = this.sendFrom(row, tail[tail.length - 1]!.seq + 1, cap);
          if (more === null) break;
          inFlight.push({ ...more, ahead: true });
        }
        const current = inFlight.shift()!;
        const response = await current.response;
        try {
          const verified = this.verify(row, current.batch, response);
          this.store(row, current.batch, verified, await this.logFinding(row, verified));
        } catch (error) {
          abandon();
          if (error instanceof ServerRefusal && error.code === 'PAYLOAD_TOO_LARGE') {
            const only = current.batch[0]!;
            if (current.batch.length === 1) {
              const bytes = Buffer.byteLength(JSON.stringify(only));
              throw new ServerRefusal(
                error.status,
                'PAYLOAD_TOO_LARGE',
                `journal entry #${only.seq} alone (${bytes} bytes) is larger than the server accepts in one upload; ask the server operator to raise its batch limit`,
              );
            }
            cap = Math.max(1, Math.floor(current.batch.length / 2));
            continue;
          }
          // A server of an earlier version takes at most LEGACY_MAX_BATCH_ENTRIES entries a batch
          // and refuses more as a malformed body: send it batches of that size from now on.
          if (error instanceof ServerRefusal && error.code === 'BAD_REQUEST' && current.batch.length > LEGACY_MAX_BATCH_ENTRIES) {
            this.legacyServer = true;
            cap = Math.min(cap, LEGACY_MAX_BATCH_ENTRIES);
            continue;
          }
          // The server holds less than this device believes (restored from a backup, or a batch
          // sent ahead overtook its predecessor): resend from where it stands.
          if (error instanceof ServerRefusal && error.code === 'SEQUENCE_GAP') {
            const expected = (error.evidence as { expected?: unknown } | undefined)?.expected;
            // Sent ahead and overtaken: the server answered before it took the batch this one
            // follows, whose receipts were accepted since. Send it again as the first in flight;
            // if the server still finds a gap then, it really holds less.
            if (current.ahead && current.batch[0]!.seq === row.acked_seq + 1) continue;
            if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0 && expected <= row.acked_seq) {
              this.options.db.prepare('UPDATE sync_state SET acked_seq = ? WHERE id = 1').run(expected - 1);
              continue;
            }
          }
          throw error;
        }
      }
    } finally {
      abandon();
    }
  }

  /** Reads one batch from `from` (at most `cap` entries and BATCH_BYTES of JSON, at least one entry) and sends it; null when nothing is left. */
  private sendFrom(row: StateRow, from: number, cap: number): { batch: readonly SignedEntry[]; response: Promise<WireResponse> } | null {
    const head = this.options.journal.head();
    if (head === null || head.seq < from) return null;
    const batch: SignedEntry[] = [];
    // Each entry is serialized once: to measure the batch and as its part of the body.
    const lines: string[] = [];
    let bytes = 0;
    for (const entry of this.options.journal.read({ from, to: Math.min(head.seq, from + cap - 1) })) {
      const line = JSON.stringify(entry);
      const size = Buffer.byteLength(line) + 1;
      if (batch.length > 0 && bytes + size > BATCH_BYTES) break;
      batch.push(entry);
      lines.push(line);
      bytes += size;
    }
    if (batch.length === 0) return null;
    // End the batch on its last checkpoint when it has one: the server checks the entries before
    // it by that checkpoint's signature and root; the rest go in the next batch.
    if (batch[batch.length - 1]!.type !== ENTRY_TYPES.checkpoint) {
      let last = batch.length - 1;
      while (last > 0 && batch[last]!.type !== ENTRY_TYPES.checkpoint) last--;
      if (last > 0) batch.length = lines.length = last + 1;
    }
    const response = sendRequest(row.server_url, {
      method: 'POST',
      // One proof block for the entries the server appends (not a receipt each): see accept().
      path: `/v1/devices/${this.deviceId()}/entries?receipts=batch`,
      // The bytes JSON.stringify({ entries: batch }) would give.
      jsonText: `{"entries":[${lines.join(',')}]}`,
      signer: this.options.signer,
      device: this.deviceId(),
      headers: this.rotationProof(row.acked_seq),
      now: this.now(),
      ...(this.options.requestTimeoutMs === undefined ? {} : { timeoutMs: this.options.requestTimeoutMs }),
    });
    // Marked handled now: a batch sent ahead may fail while an earlier one is awaited; its
    // error still reaches whoever awaits it later.
    response.catch(() => undefined);
    return { batch, response };
  }

  /** Verifies a batch's answer against the pinned key and the local entries; throws UNEXPECTED_RESPONSE (or the server's refusal) otherwise. */
  private verify(row: StateRow, batch: readonly SignedEntry[], response: WireResponse): VerifiedBatch {
    const device = this.deviceId();
    const parsed = ingestResponseSchema.safeParse(expectOk(response));
    if (!parsed.success)
      throw new ServerRefusal(
        response.status,
        'UNEXPECTED_RESPONSE',
        'the server answered the upload with something that is not an ingest response',
      );
    const bySeq = new Map(batch.map((e) => [e.seq, e]));
    // Every receipt is checked against the pinned key and the local entry before any is stored.
    const verifiedHeads = new Set<string>();
    for (const r of parsed.data.receipts) {
      const local = bySeq.get(r.seq);
      const problem =
        local === undefined || local.hash !== r.entryHash || r.device !== device
          ? 'the receipt is for an entry this batch did not send'
          : parsedReceiptProblem(r, row.server_key, undefined, verifiedHeads, nativePrimitives.sha256);
      if (problem !== null)
        throw new ServerRefusal(
          response.status,
          'UNEXPECTED_RESPONSE',
          `a receipt from the server does not verify (${problem}); nothing was stored`,
        );
    }
    const covered = new Set(parsed.data.receipts.map((r) => r.seq));
    const block =
      parsed.data.appended === undefined
        ? null
        : appendedBlock(
            response.status,
            device,
            batch.filter((e) => !covered.has(e.seq)),
            parsed.data.appended,
            row.server_key,
          );
    if (block !== null) for (let i = 0; i < block.entryHashes.length; i++) covered.add(block.firstSeq + i);
    if (batch.some((e) => !covered.has(e.seq)))
      throw new ServerRefusal(response.status, 'UNEXPECTED_RESPONSE', 'the server did not return a receipt for every entry sent');
    for (const c of parsed.data.cosignatures) {
      if (bySeq.get(c.seq)?.hash !== c.entryHash || !verifyCheckpointCosignature(c.entryHash, c.signature, row.server_key)) {
        throw new ServerRefusal(
          response.status,
          'UNEXPECTED_RESPONSE',
          `the server's cosignature of checkpoint ${c.seq} does not verify; nothing was stored`,
        );
      }
    }
    const heads = parsed.data.receipts.map((r) => r.treeHead);
    if (block !== null) heads.push(block.treeHead);
    const lastHead = heads.reduce<TreeHead | null>((best, h) => (best === null || h.size > best.size ? h : best), null);
    // This batch's own leaves led from the frontier to the signed root (appendedBlock), so the
    // frontier also tells what the log's root was where the batch starts.
    const before =
      block !== null && block.logStart > 0
        ? {
            size: block.logStart,
            root: Buffer.from(
              frontierRoot(
                block.logStart,
                block.frontier.map((h) => Buffer.from(h, 'hex')),
                nativePrimitives.sha256,
              ),
            ).toString('hex'),
            after: block.treeHead,
          }
        : null;
    return { receipts: parsed.data.receipts, block, cosignatures: parsed.data.cosignatures, lastHead, before };
  }

  /**
   * Stores a verified batch in one transaction: its receipts, cosignatures, the new acknowledged
   * seq and tree head and, when the head does not extend the stored one, the journal entry that
   * records it (uploaded with the next batch, so reviewers see it).
   */
  private store(row: StateRow, batch: readonly SignedEntry[], verified: VerifiedBatch, finding: LogFinding | null): void {
    const { receipts, block, cosignatures, lastHead } = verified;
    const db = this.options.db;
    db.transaction(() => {
      if (finding !== null) {
        const head = (h: TreeHead): JsonObject => ({ size: h.size, root: h.root, timestamp: h.timestamp, signature: h.signature });
        this.options.journal.append({
          type: SYNC_ENTRY_TYPES.serverLogInconsistent,
          data: {
            serverUrl: row.server_url,
            reason: finding.reason,
            message: finding.message,
            previous: head(finding.previous),
            current: head(finding.current),
          },
        });
      }
      for (const r of receipts) {
        this.options.journal.addReceipt({
          ...r,
          treeHead: r.treeHead as unknown as JsonObject,
          serverKey: row.server_key,
          signature: r.treeHead.signature,
        });
      }
      if (block !== null) this.options.journal.addReceiptBlock(block, row.server_key);
      const cosign = db.prepare(
        'INSERT INTO sync_cosignatures (seq, entry_hash, signature, server_key) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING',
      );
      for (const c of cosignatures) cosign.run(c.seq, c.entryHash, c.signature, row.server_key);
      db.prepare(
        'UPDATE sync_state SET acked_seq = MAX(acked_seq, ?), last_tree_head = ?, last_success_at = ?, last_error = NULL WHERE id = 1',
      ).run(batch[batch.length - 1]!.seq, lastHead === null ? row.last_tree_head : JSON.stringify(lastHead), this.now());
    })();
  }

  /**
   * Checks a signed head (verified under the pinned key) against the one stored last, as a
   * Certificate Transparency monitor does: a larger log needs an RFC 6962 consistency proof from
   * the stored head, checked against the two roots this device holds (the server's copies of the
   * heads must carry the same roots); the same size needs the same root; a log never shrinks.
   * Returns what to record, or null when the head extends the stored one. A proof that cannot be
   * fetched throws, an ordinary retryable error: nothing of the batch is stored then.
   */
  private async logFinding(row: StateRow, verified: VerifiedBatch): Promise<LogFinding | null> {
    const next = verified.lastHead;
    if (next === null || row.last_tree_head === null) return null;
    const stored = JSON.parse(row.last_tree_head) as TreeHead;
    if (next.size === stored.size && next.root === stored.root) return null;
    // The common case needs no request: the batch was appended right where the stored head ends,
    // and the frontier its leaves were checked through has the stored root. The new head then
    // extends the stored one by construction (same first leaves, then this batch's).
    const before = verified.before;
    if (
      before !== null &&
      before.size === stored.size &&
      before.root === stored.root &&
      before.after.size === next.size &&
      before.after.root === next.root
    )
      return null;
    const found = (reason: LogInconsistencyReason, message: string): LogFinding => ({ reason, message, previous: stored, current: next });
    if (next.size < stored.size)
      return found(
        'LOG_SHRANK',
        `the server signed a log of ${next.size} entries after one of ${stored.size}: it lost entries (restored from an older backup?)`,
      );
    if (next.size === stored.size)
      return found('ROOT_CHANGED', `the server signed two different roots for its log of ${stored.size} entries: the log was rewritten`);
    const response = await sendRequest(row.server_url, {
      method: 'GET',
      path: `/v1/log/consistency?from=${stored.size}&to=${next.size}`,
      ...(this.options.requestTimeoutMs === undefined ? {} : { timeoutMs: this.options.requestTimeoutMs }),
    });
    // The server's own answer that it has no head of that size (not a proxy's or a missing route's 404).
    if (response.status === 404 && wireErrorSchema.safeParse(response.body).data?.error.code === 'NOT_FOUND') {
      return found(
        'OLD_HEAD_MISSING',
        `the server no longer holds the head of ${stored.size} entries it signed for this device before: its log was restored from an older backup or rewritten`,
      );
    }
    const parsed = consistencyResponseSchema.safeParse(expectOk(response));
    if (!parsed.success || parsed.data.from.size !== stored.size || parsed.data.to.size !== next.size) {
      throw new ServerRefusal(
        response.status,
        'UNEXPECTED_RESPONSE',
        `the server answered the consistency request from ${stored.size} to ${next.size} entries with something that is not that proof`,
      );
    }
    if (parsed.data.from.root !== stored.root || parsed.data.to.root !== next.root) {
      return found(
        'ROOT_CHANGED',
        `the server's heads of ${stored.size} and ${next.size} entries are not the ones it signed for this device: the log was rewritten`,
      );
    }
    const bytes = (hex: string): Uint8Array => Buffer.from(hex, 'hex');
    if (!verifyConsistency(stored.size, next.size, bytes(stored.root), bytes(next.root), parsed.data.proof.map(bytes))) {
      return found(
        'PROOF_INVALID',
        `the server's log of ${next.size} entries does not extend the one of ${stored.size} this device saw (the consistency proof fails): the log was rewritten`,
      );
    }
    return null;
  }

  /** The latest `sync.server-log-inconsistent` entry, as status shows it. */
  private lastInconsistency(): ServerLogInconsistency | null {
    const found = this.options.journal.query({ type: SYNC_ENTRY_TYPES.serverLogInconsistent });
    const last = found[found.length - 1];
    if (last === undefined) return null;
    return {
      code: 'LOG_INCONSISTENT',
      reason: last.data.reason as LogInconsistencyReason,
      message: String(last.data.message),
      seq: last.seq,
      time: last.time,
    };
  }

  /** The device id: the genesis entry's device field, which a key rotation does not change. */
  private deviceId(): string {
    if (this.knownDeviceId === null) {
      for (const genesis of this.options.journal.read({ from: 0, to: 0 })) this.knownDeviceId = genesis.device;
    }
    return this.knownDeviceId ?? this.options.signer.publicKey;
  }

  /**
   * The rotation entries the server does not hold yet, oldest first, when this device's key was
   * rotated (once or several times while offline): together they vouch for the key that now
   * signs requests (docs/sync-protocol.md, "Device key rotation").
   */
  private rotationProof(ackedSeq: number): Record<string, string> {
    const pending = this.options.journal.query({ type: ENTRY_TYPES.deviceKeyRotated, after: ackedSeq });
    if (pending.length === 0) return {};
    if (pending.length > MAX_ROTATIONS_PER_PROOF) {
      throw new HalfkeyError(
        'SYNC_FAILED',
        `This device's key was rotated ${pending.length} times since its last sync; the server accepts at most ${MAX_ROTATIONS_PER_PROOF} rotations in one proof.`,
      );
    }
    return { [ROTATION_HEADER]: JSON.stringify(pending) };
  }

  private setError(message: string | null): void {
    this.options.db
      .prepare('UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE id = 1')
      .run(message, message === null ? null : this.now());
  }

  private row(): StateRow | null {
    return (this.options.db.prepare('SELECT * FROM sync_state WHERE id = 1').get() as StateRow | undefined) ?? null;
  }
}

/** A fingerprint as a person types it, as repin reads it: 32 hex digits, spaces (or any separator) allowed. */
function fingerprintDigits(text: string): string {
  const digits = text.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (digits.length !== 32)
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      'A server key fingerprint is 32 hex digits (spaces allowed), as the server operator publishes it.',
      { field: 'fingerprint' },
    );
  return digits;
}

function syncError(what: string, error: unknown): HalfkeyError {
  if (error instanceof ServerRefusal)
    return new HalfkeyError('SYNC_FAILED', `${what}: the server refused (${error.code}): ${error.message}`, { code: error.code });
  if (error instanceof ServerUnreachable)
    return new HalfkeyError('SYNC_FAILED', `${what}: ${error.message}. Check the URL and the network, then retry.`);
  return new HalfkeyError('SYNC_FAILED', `${what} unexpectedly.`);
}

/**
 * The receipt block of the entries a batch appended to the server's log, from its `appended`
 * answer: the signed tree head must verify under the pinned key, and this device's own entry
 * hashes, placed after the log's frontier at logStart, must lead to the signed root
 * (receiptBlockProblem). Each entry's receipt, derived from the block when it is read, is then
 * one the server could have sent (and receiptProblem accepts it). Throws UNEXPECTED_RESPONSE
 * otherwise, before anything is stored.
 */
function appendedBlock(status: number, device: string, fresh: readonly SignedEntry[], appended: Appended, serverKey: string): ReceiptBlock {
  const refuse = (why: string): never => {
    throw new ServerRefusal(
      status,
      'UNEXPECTED_RESPONSE',
      `the server's receipt for the batch does not verify (${why}); nothing was stored`,
    );
  };
  if (fresh.length === 0) refuse('it names appended entries, but every entry sent has a receipt already');
  for (let i = 1; i < fresh.length; i++)
    if (fresh[i]!.seq !== fresh[i - 1]!.seq + 1) refuse('the entries without a receipt are not consecutive');
  const block: ReceiptBlock = {
    device,
    firstSeq: fresh[0]!.seq,
    logStart: appended.logStart,
    treeHead: appended.treeHead,
    frontier: appended.frontier,
    entryHashes: fresh.map((e) => e.hash),
  };
  const problem = receiptBlockProblem(block, serverKey, nativePrimitives.sha256);
  if (problem !== null) refuse(problem);
  return block;
}

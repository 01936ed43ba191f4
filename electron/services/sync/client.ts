import { fileURLToPath } from 'node:url';
import { HalfkeyError } from '../../../shared/api/result';
import type { JsonObject } from '../../../shared/journal/canonical';
import type { EntrySigner, SignedEntry } from '../../../shared/journal/entry';
import { ENTRY_TYPES } from '../../../shared/journal/entry-types';
import { appendedLeafProofs } from '../../../shared/journal/merkle';
import { parsedReceiptProblem, treeHeadProblem, verifyCheckpointCosignature, type Receipt, type TreeHead } from '../../../shared/sync/receipt';
import { nativePrimitives } from '../journal/native-primitives';
import { enrolResponseSchema, ingestResponseSchema, type Appended, MAX_BATCH_ENTRIES, MAX_ROTATIONS_PER_PROOF, ROTATION_HEADER, rosterMemberSchema, serverKeyFingerprint, serverKeyResponseSchema } from '../../../shared/sync/wire';
import { migrate, type Db } from '../database';
import type { JournalStore } from '../journal/store';
import { expectOk, sendRequest, ServerRefusal, ServerUnreachable, type WireResponse } from './transport';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** The journal operations the sync client uses (a JournalStore provides them). */
export type SyncJournal = Pick<JournalStore, 'vaultId' | 'head' | 'read' | 'addReceipt' | 'query' | 'append'>;

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
const PERMANENT = new Set(['FORK', 'ROLLBACK', 'ENTRY_INVALID', 'DEVICE_REVOKED', 'UNKNOWN_DEVICE', 'WRONG_DEVICE', 'BAD_REQUEST_SIGNATURE']);

/**
 * Offline-first sync of one device's journal: a background queue that uploads unsent entries
 * in resumable batches, verifies every receipt against the server key pinned at enrolment
 * before storing it, and backs off exponentially with jitter while the server is away.
 * Resending is always safe: the server is idempotent by (device, seq).
 */
export class SyncClient {
  private readonly batchSize: number;
  private readonly pipelineDepth: number;
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

  /** Registers this device with a one-time token and pins the server key it answers with. */
  async enroll(serverUrl: string, token: string): Promise<SyncStatus> {
    if (this.row() !== null) throw new HalfkeyError('CONFLICT', 'This vault is already enrolled with a sync server.');
    const vault = this.options.journal.vaultId();
    if (vault === null) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'Create the vault before enrolling it with a sync server.');
    let url: URL;
    try {
      url = new URL(serverUrl);
    } catch {
      throw new HalfkeyError('INVALID_PAYLOAD', 'The server URL is not a URL.', { field: 'url' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HalfkeyError('INVALID_PAYLOAD', 'The server URL must be http(s).', { field: 'url' });
    const roster = this.options.journal
      .query({ type: ENTRY_TYPES.custodianEnrolled })
      .map((e) => rosterMemberSchema.safeParse({ custodian: e.data.custodian, signingKey: e.data.signingKey, role: typeof e.data.role === 'string' && e.data.role.length > 0 ? e.data.role : 'custodian' }))
      .flatMap((r) => (r.success ? [r.data] : []));
    let answer: unknown;
    try {
      answer = expectOk(await sendRequest(url.origin, { method: 'POST', path: '/v1/enrol', json: { token, vault, device: this.deviceId(), roster } }));
    } catch (error) {
      throw syncError('Enrolment failed', error);
    }
    const parsed = enrolResponseSchema.safeParse(answer);
    if (!parsed.success || parsed.data.device !== this.deviceId()) throw new HalfkeyError('SYNC_FAILED', 'The server answered the enrolment with something that is not an enrolment response.');
    const fingerprint = serverKeyFingerprint(parsed.data.serverKey);
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
    };
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
    const wanted = expectedFingerprint.toLowerCase().replace(/[^0-9a-f]/g, '');
    if (wanted.length !== 32) throw new HalfkeyError('INVALID_PAYLOAD', 'A server key fingerprint is 32 hex digits (spaces allowed), as the server operator publishes it.', { field: 'fingerprint' });
    let answer: unknown;
    try {
      answer = expectOk(await sendRequest(row.server_url, { method: 'GET', path: '/v1/server-key', ...(this.options.requestTimeoutMs === undefined ? {} : { timeoutMs: this.options.requestTimeoutMs }) }));
    } catch (error) {
      throw syncError('Fetching the server key failed', error);
    }
    const parsed = serverKeyResponseSchema.safeParse(answer);
    if (!parsed.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered with something that is not its key.');
    const key = parsed.data.serverKey;
    const fingerprint = serverKeyFingerprint(key);
    if (key === row.server_key) throw new HalfkeyError('CONFLICT', `The server still signs with the pinned key (fingerprint ${row.server_fingerprint}): nothing to re-pin.`);
    if (fingerprint.replace(/ /g, '') !== wanted) {
      throw new HalfkeyError('POLICY_REFUSED', `The server now presents a key with fingerprint ${fingerprint}, not the one given (${expectedFingerprint.trim()}): the key stays pinned to ${row.server_fingerprint}. Check the fingerprint with the server operator.`);
    }
    this.options.db.transaction(() => {
      this.options.journal.append({ type: 'sync.server-key-changed', data: { previousKey: row.server_key, serverKey: key, serverUrl: row.server_url } });
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
        const unreachable = error instanceof ServerUnreachable || (error instanceof ServerRefusal && (error.status >= 500 || error.code === 'RATE_LIMITED'));
        this.state = unreachable ? 'offline' : 'error';
        this.setError(error instanceof Error ? error.message : 'sync failed');
        const permanent = error instanceof ServerRefusal && PERMANENT.has(error.code);
        const ceiling = permanent ? this.backoff.maxMs : Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(this.failures - 1, 30));
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
   * (idempotent by device and seq).
   */
  private async uploadAll(): Promise<void> {
    const inFlight: { readonly batch: readonly SignedEntry[]; readonly response: Promise<WireResponse>; readonly ahead: boolean }[] = [];
    // Batches sent ahead whose answers nobody reads: resending them later is harmless.
    const abandon = (): void => void inFlight.splice(0);
    try {
      for (;;) {
        const row = this.row();
        if (row === null) return;
        if (inFlight.length === 0) {
          const first = this.sendFrom(row, row.acked_seq + 1);
          if (first === null) return;
          inFlight.push({ ...first, ahead: false });
        }
        while (inFlight.length < this.pipelineDepth) {
          const tail = inFlight[inFlight.length - 1]!.batch;
          const more = this.sendFrom(row, tail[tail.length - 1]!.seq + 1);
          if (more === null) break;
          inFlight.push({ ...more, ahead: true });
        }
        const current = inFlight.shift()!;
        const response = await current.response;
        try {
          this.accept(row, current.batch, response);
        } catch (error) {
          abandon();
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

  /** Reads up to one batch from `from` and sends it; null when nothing is left. */
  private sendFrom(row: StateRow, from: number): { batch: readonly SignedEntry[]; response: Promise<WireResponse> } | null {
    const head = this.options.journal.head();
    if (head === null || head.seq < from) return null;
    const batch = [...this.options.journal.read({ from, to: Math.min(head.seq, from + this.batchSize - 1) })];
    if (batch.length === 0) return null;
    const response = sendRequest(row.server_url, {
      method: 'POST',
      // One proof block for the entries the server appends (not a receipt each): see accept().
      path: `/v1/devices/${this.deviceId()}/entries?receipts=batch`,
      json: { entries: batch },
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

  /** Verifies a batch's answer against the pinned key and the local entries, then stores it in one transaction. */
  private accept(row: StateRow, batch: readonly SignedEntry[], response: WireResponse): void {
    const device = this.deviceId();
    const parsed = ingestResponseSchema.safeParse(expectOk(response));
    if (!parsed.success) throw new ServerRefusal(response.status, 'UNEXPECTED_RESPONSE', 'the server answered the upload with something that is not an ingest response');
    const bySeq = new Map(batch.map((e) => [e.seq, e]));
    // Every receipt is checked against the pinned key and the local entry before any is stored.
    const verifiedHeads = new Set<string>();
    for (const r of parsed.data.receipts) {
      const local = bySeq.get(r.seq);
      const problem = local === undefined || local.hash !== r.entryHash || r.device !== device ? 'the receipt is for an entry this batch did not send' : parsedReceiptProblem(r, row.server_key, undefined, verifiedHeads, nativePrimitives.sha256);
      if (problem !== null) throw new ServerRefusal(response.status, 'UNEXPECTED_RESPONSE', `a receipt from the server does not verify (${problem}); nothing was stored`);
    }
    const covered = new Set(parsed.data.receipts.map((r) => r.seq));
    const appended = parsed.data.appended === undefined ? [] : appendedReceipts(response.status, device, batch.filter((e) => !covered.has(e.seq)), parsed.data.appended, row.server_key);
    const receipts = [...parsed.data.receipts, ...appended];
    for (const r of appended) covered.add(r.seq);
    if (batch.some((e) => !covered.has(e.seq))) throw new ServerRefusal(response.status, 'UNEXPECTED_RESPONSE', 'the server did not return a receipt for every entry sent');
    for (const c of parsed.data.cosignatures) {
      if (bySeq.get(c.seq)?.hash !== c.entryHash || !verifyCheckpointCosignature(c.entryHash, c.signature, row.server_key)) {
        throw new ServerRefusal(response.status, 'UNEXPECTED_RESPONSE', `the server's cosignature of checkpoint ${c.seq} does not verify; nothing was stored`);
      }
    }
    const lastHead = receipts.reduce<TreeHead | null>((best, r) => (best === null || r.treeHead.size > best.size ? r.treeHead : best), null);
    const db = this.options.db;
    db.transaction(() => {
      for (const r of receipts) {
        this.options.journal.addReceipt({ ...r, treeHead: r.treeHead as unknown as JsonObject, serverKey: row.server_key, signature: r.treeHead.signature });
      }
      const cosign = db.prepare('INSERT INTO sync_cosignatures (seq, entry_hash, signature, server_key) VALUES (?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING');
      for (const c of parsed.data.cosignatures) cosign.run(c.seq, c.entryHash, c.signature, row.server_key);
      db.prepare('UPDATE sync_state SET acked_seq = MAX(acked_seq, ?), last_tree_head = ?, last_success_at = ?, last_error = NULL WHERE id = 1').run(
        batch[batch.length - 1]!.seq,
        lastHead === null ? row.last_tree_head : JSON.stringify(lastHead),
        this.now(),
      );
    })();
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
      throw new HalfkeyError('SYNC_FAILED', `This device's key was rotated ${pending.length} times since its last sync; the server accepts at most ${MAX_ROTATIONS_PER_PROOF} rotations in one proof.`);
    }
    return { [ROTATION_HEADER]: JSON.stringify(pending) };
  }

  private setError(message: string | null): void {
    this.options.db.prepare('UPDATE sync_state SET last_error = ?, last_error_at = ? WHERE id = 1').run(message, message === null ? null : this.now());
  }

  private row(): StateRow | null {
    return (this.options.db.prepare('SELECT * FROM sync_state WHERE id = 1').get() as StateRow | undefined) ?? null;
  }
}

function syncError(what: string, error: unknown): HalfkeyError {
  if (error instanceof ServerRefusal) return new HalfkeyError('SYNC_FAILED', `${what}: the server refused (${error.code}): ${error.message}`, { code: error.code });
  if (error instanceof ServerUnreachable) return new HalfkeyError('SYNC_FAILED', `${what}: ${error.message}. Check the URL and the network, then retry.`);
  return new HalfkeyError('SYNC_FAILED', `${what} unexpectedly.`);
}

/**
 * The receipts of the entries a batch appended to the server's log, derived from its `appended`
 * block: the signed tree head must verify under the pinned key, and this device's own entry
 * hashes, placed after the log's frontier at logStart, must lead to the signed root. Each
 * entry's audit path then comes from the same fold, so every derived receipt is one the server
 * could have sent (and receiptProblem accepts it). Throws UNEXPECTED_RESPONSE otherwise.
 */
function appendedReceipts(status: number, device: string, fresh: readonly SignedEntry[], appended: Appended, serverKey: string): Receipt[] {
  const refuse = (why: string): never => {
    throw new ServerRefusal(status, 'UNEXPECTED_RESPONSE', `the server's receipt for the batch does not verify (${why}); nothing was stored`);
  };
  if (fresh.length === 0) refuse('it names appended entries, but every entry sent has a receipt already');
  for (let i = 1; i < fresh.length; i++) if (fresh[i]!.seq !== fresh[i - 1]!.seq + 1) refuse('the entries without a receipt are not consecutive');
  const { treeHead, logStart } = appended;
  if (treeHead.size !== logStart + fresh.length) refuse(`a tree of ${treeHead.size} leaves cannot hold ${fresh.length} entries appended at ${logStart}`);
  const headProblem = treeHeadProblem(treeHead, serverKey);
  if (headProblem !== null) refuse(headProblem);
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  let folded: { root: Uint8Array; proofs: Uint8Array[][] };
  try {
    folded = appendedLeafProofs(logStart, appended.frontier.map((h) => Buffer.from(h, 'hex')), fresh.map((e) => Buffer.from(e.hash, 'hex')), nativePrimitives.sha256);
  } catch (error) {
    return refuse(error instanceof Error ? error.message : 'malformed frontier');
  }
  if (hex(folded.root) !== treeHead.root) refuse('this batch’s entries, appended after the log’s frontier, do not lead to the signed root');
  return fresh.map((e, i) => ({ device, seq: e.seq, entryHash: e.hash, logIndex: logStart + i, treeHead, inclusionProof: folded.proofs[i]!.map(hex) }));
}

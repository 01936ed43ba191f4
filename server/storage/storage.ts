import type { TreeHead } from '../../shared/sync/receipt';

/**
 * The server's storage, one interface for both adapters (sqlite.ts, postgres.ts). Every method
 * is atomic on its own; `transaction` groups calls, and with `{ log: true }` also holds the
 * org-wide log lock, so no two server processes can append the same log index or (device, seq).
 */
export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** The queries, each in its own transaction. */
  readonly queries: StorageQueries;
  /** Runs fn in one transaction; everything it wrote is rolled back if it throws. */
  transaction<T>(fn: (tx: StorageQueries) => Promise<T>, options?: { readonly log?: boolean }): Promise<T>;
  /** Releases connections; the storage is unusable afterwards. */
  close(): Promise<void>;
}

export interface DeviceRecord {
  readonly device: string;
  readonly vault: string;
  readonly enrolledAt: number;
  readonly revokedAt: number | null;
  readonly lastSeen: number | null;
  readonly headSeq: number | null;
  readonly headHash: string | null;
  /** The journal verifier's resumable state after the head (JSON text), null before genesis. */
  readonly chainState: string | null;
}

export interface StoredEntry {
  readonly device: string;
  readonly seq: number;
  readonly hash: string;
  readonly type: string;
  readonly time: number;
  readonly actor: string | null;
  /** Canonical JSON of the whole signed entry. */
  readonly body: string;
  readonly logIndex: number;
  /** Size of the tree head its receipt was issued against (receipts are reproducible from it). */
  readonly receiptSize: number;
  readonly receivedAt: number;
  readonly breakGlass: boolean;
}

export interface CustodianKey {
  readonly vault: string;
  readonly signingKey: string;
  readonly custodian: string;
  readonly role: string;
  readonly source: 'enrolment' | 'journal';
}

/** Reviewer rights the operator granted to a signing key (`halfkey server reviewer grant`). */
export interface ReviewerGrant {
  readonly signingKey: string;
  /** Who the key belongs to, as the operator wrote it. */
  readonly name: string;
  readonly grantedAt: number;
  readonly revokedAt: number | null;
}

export type AlarmKind = 'FORK' | 'ROLLBACK' | 'JOURNAL_WARNING' | 'LOG_INCONSISTENT' | 'BOTH_HALVES_OUT' | 'DEVICE_SILENT';

export interface Alarm {
  readonly id: number;
  readonly device: string;
  readonly kind: AlarmKind;
  readonly seq: number | null;
  readonly message: string;
  /** JSON text: the evidence (both entries for a fork or rollback). */
  readonly evidence: string;
  readonly raisedAt: number;
}

/** A break-glass session of one device as the server saw it synced (see server/ingest.ts, incidents). */
export interface IncidentRecord {
  /** The hash of the session's first synced entry. */
  readonly id: string;
  readonly device: string;
  readonly vault: string;
  readonly session: string;
  readonly account: string | null;
  readonly reference: string | null;
  readonly reason: string | null;
  readonly severity: string | null;
  readonly outcome: string | null;
  readonly openedAt: number;
  readonly updatedAt: number;
  /** The log index of its first entry: the view's order and paging cursor. */
  readonly ord: number;
}

/** A reviewer's signed review as stored: one leaf of the org log. */
export interface StoredReview {
  /** reviewHash of the signed review (its leaf data). */
  readonly hash: string;
  readonly subjectKind: 'incident' | 'alarm';
  readonly subjectId: string;
  readonly reviewer: string;
  /** Canonical JSON of the signed review ({ review, signature }). */
  readonly body: string;
  readonly logIndex: number;
  readonly receivedAt: number;
}

export interface LogNode {
  /** index * 64 + level (see merkle-log.ts). */
  readonly key: number;
  readonly hash: string;
}

/** All queries, callable inside or outside a transaction. */
export interface StorageQueries {
  /**
   * Takes one token from a shared token bucket (refilled at perSecond up to capacity); false when
   * it is empty. One atomic statement, so concurrent server processes never overspend a bucket.
   */
  takeRateToken(bucket: string, capacity: number, perSecond: number, now: number): Promise<boolean>;
  /** Drops buckets idle since before `before` (they would be full again anyway). */
  pruneRateBuckets(before: number): Promise<number>;
  // Enrolment tokens: stored by hash only, so a database dump cannot enrol a device.
  insertEnrolToken(tokenHash: string, createdAt: number, expiresAt: number): Promise<void>;
  /** Marks the token used by `device` if it exists, is unused and unexpired; false otherwise. */
  consumeEnrolToken(tokenHash: string, device: string, now: number): Promise<boolean>;

  insertDevice(device: string, vault: string, enrolledAt: number): Promise<boolean>;
  getDevice(device: string): Promise<DeviceRecord | null>;
  listDevices(): Promise<DeviceRecord[]>;
  revokeDevice(device: string, at: number): Promise<boolean>;
  touchDevice(device: string, at: number): Promise<void>;
  setDeviceHead(device: string, headSeq: number, headHash: string, chainState: string, at: number): Promise<void>;

  /** Custodian keys as rosters and journals declare them: kept for the record, they grant nothing on the server. */
  insertCustodianKeys(keys: readonly CustodianKey[]): Promise<void>;
  revokeCustodianKey(vault: string, signingKey: string): Promise<void>;

  // Reviewer rights: granted and revoked by the server's operator only (`halfkey server reviewer`).
  /** Grants (or renews after a revocation) org-wide reviewer rights to a signing key; an active grant only takes the new name. */
  grantReviewer(signingKey: string, name: string, at: number): Promise<void>;
  /**
   * Revokes an active grant and ends the key's sessions and pending challenges; false when the
   * key has no active grant. Run it in a transaction to make the three writes one.
   */
  revokeReviewer(signingKey: string, at: number): Promise<boolean>;
  /** Every grant, revoked ones included, oldest first. */
  listReviewers(): Promise<ReviewerGrant[]>;
  /** True when the operator granted this key reviewer rights and has not revoked them. */
  isReviewerKey(signingKey: string): Promise<boolean>;

  /** Records a request nonce; false when the device already used it (a replay). */
  rememberNonce(device: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** True when the device already used this nonce (rememberNonce would return false). */
  nonceUsed(device: string, nonce: string): Promise<boolean>;
  pruneNonces(now: number): Promise<number>;

  entriesBySeq(device: string, fromSeq: number, toSeq: number): Promise<StoredEntry[]>;
  /** The new keys of the device's held `device.key-rotated` entries, in seq order (through a partial index). */
  rotatedDeviceKeys(device: string): Promise<string[]>;
  insertEntries(entries: readonly StoredEntry[]): Promise<void>;
  /** Entries in log order from a log index, at most `limit`. */
  entriesByLogIndex(fromIndex: number, limit: number): Promise<StoredEntry[]>;
  // Incidents, alarm evidence and signed reviews (the reviewer's loop).
  /** The incident of a device's break-glass session, if one is open for it. */
  incidentBySession(device: string, session: string): Promise<IncidentRecord | null>;
  getIncident(id: string): Promise<IncidentRecord | null>;
  /** Records a new incident; false when the (device, session) or id already has one. */
  insertIncident(incident: IncidentRecord): Promise<boolean>;
  /** A later entry of the session: its time, and what the entry adds (an outcome, or incident facts not known yet). */
  updateIncident(
    id: string,
    update: Pick<IncidentRecord, 'updatedAt' | 'outcome' | 'reference' | 'reason' | 'severity' | 'account'>,
  ): Promise<void>;
  /** Links entries of a device to an incident (ignores links already made). */
  linkIncidentEntries(incident: string, device: string, seqs: readonly number[]): Promise<void>;
  /** Incidents after cursor `afterOrd` in log order, at most `limit`; `open`: only those without a review. */
  listIncidents(open: boolean, afterOrd: number, limit: number): Promise<IncidentRecord[]>;
  /** The entries behind an incident with a seq above `afterSeq`, in seq order, at most `limit`. */
  incidentEntries(incident: string, afterSeq: number, limit: number): Promise<StoredEntry[]>;
  /** Links entries of a device to an alarm as its evidence. */
  linkAlarmEntries(alarm: number, device: string, seqs: readonly number[]): Promise<void>;
  /** The entries behind an alarm, in seq order, at most `limit`. */
  alarmEntries(alarm: number, limit: number): Promise<StoredEntry[]>;
  getAlarm(id: number): Promise<Alarm | null>;
  /** Alarms after cursor `afterId`, oldest first, at most `limit`; `open`: only those without a review. */
  listReviewAlarms(open: boolean, afterId: number, limit: number): Promise<Alarm[]>;
  /** The device's latest `checkout.opened` entry before `beforeSeq` naming this checkout id, or null. */
  checkoutEntry(device: string, checkout: string, beforeSeq: number): Promise<StoredEntry | null>;
  /** Custodian ids a signing key is enrolled as in a vault (roster or journal), revoked ones included. */
  custodiansOfKey(vault: string, signingKey: string): Promise<string[]>;
  /**
   * Devices not revoked and not heard from (last seen, else enrolled) since before `before` that
   * have no DEVICE_SILENT alarm for that silence yet, at most `limit`.
   */
  silentDevices(before: number, limit: number): Promise<DeviceRecord[]>;
  /** Stores a review; false when its subject already has one (the first wins) or its hash is stored. */
  insertReview(review: StoredReview): Promise<boolean>;
  reviewOf(subjectKind: 'incident' | 'alarm', subjectId: string): Promise<StoredReview | null>;
  /** Reviews of these subjects of one kind, by subject id. */
  reviewsOf(subjectKind: 'incident' | 'alarm', subjectIds: readonly string[]): Promise<Map<string, StoredReview>>;
  /** Reviews at log indexes in [fromIndex, toIndex), in log order. */
  reviewsInLogRange(fromIndex: number, toIndex: number): Promise<StoredReview[]>;

  /** Stored interior nodes of the org log (level ≥ 1; leaves are derived from entries.hash by log index). */
  getLogNodes(keys: readonly number[]): Promise<Map<number, string>>;
  /** Leaf data at these log indexes, by index (an entry's hash, or a review's reviewHash); indexes not in the log are left out. */
  entryHashesAt(logIndexes: readonly number[]): Promise<Map<number, string>>;
  insertLogNodes(nodes: readonly LogNode[]): Promise<void>;
  insertTreeHead(head: TreeHead): Promise<void>;
  /**
   * Replaces the stored head `previous` with `next`, the same size and root under the server's
   * current key (after a key rotation; the log keeps one head per size), keeping `previous` in
   * previousTreeHeads. False when the stored head of that size is no longer `previous` (another
   * process replaced it first); throws when `next` has another size or root. Run it in a
   * transaction to make its two writes one.
   */
  replaceTreeHead(previous: TreeHead, next: TreeHead): Promise<boolean>;
  /** Heads of this size that replaceTreeHead replaced (signed by earlier server keys), oldest first. */
  previousTreeHeads(size: number): Promise<TreeHead[]>;
  latestTreeHead(): Promise<TreeHead | null>;
  treeHeadAt(size: number): Promise<TreeHead | null>;

  /**
   * Records an alarm and returns its id; null when a fork or rollback alarm with the same device,
   * kind, seq and `offeredHash` (the conflicting entry's hash) is already recorded (a resent
   * conflict is one alarm), or a DEVICE_SILENT one with the same device and `offeredHash` (the
   * silence's start: one alarm per silence period).
   */
  insertAlarm(alarm: Omit<Alarm, 'id'> & { readonly offeredHash?: string }): Promise<number | null>;
  listAlarms(device: string | null): Promise<Alarm[]>;
  /** Every device's alarms with an id above `afterId` (a paging cursor), oldest first, at most `limit`. */
  alarmsAfter(afterId: number, limit: number): Promise<Alarm[]>;
  alarmCounts(): Promise<Map<string, number>>;

  insertChallenge(challenge: string, reviewerKey: string, expiresAt: number): Promise<void>;
  /** Deletes and returns the challenge's reviewer key when it exists and is unexpired. */
  consumeChallenge(challenge: string, now: number): Promise<string | null>;
  insertSession(tokenHash: string, reviewerKey: string, expiresAt: number): Promise<void>;
  sessionReviewer(tokenHash: string, now: number): Promise<string | null>;

  // Webhooks and their delivery outbox (server/notify/webhooks.ts, docs/operations.md "Webhooks").
  /** Adds a webhook; returns its id. */
  insertWebhook(webhook: NewWebhook): Promise<number>;
  /**
   * Removes a webhook: marks it disabled, wipes its secret, and fails its pending deliveries;
   * false when there is no such active webhook. Run it in a transaction to make the writes one.
   */
  disableWebhook(id: number, at: number): Promise<boolean>;
  /** Every webhook, removed ones included, oldest first; never the secrets. */
  listWebhooks(): Promise<WebhookRecord[]>;
  /** The active webhooks with their secrets: where a new event goes, and how the dispatcher signs. */
  webhookTargets(): Promise<WebhookTarget[]>;
  insertWebhookDeliveries(deliveries: readonly NewWebhookDelivery[]): Promise<void>;
  /**
   * Claims up to `limit` pending deliveries due at `now` whose lease is free or expired, for
   * `claimer` until `leaseUntil`, counting an attempt for each. A delivery is claimed by one
   * claimer at a time, whatever the number of server processes.
   */
  claimWebhookDeliveries(claimer: string, now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]>;
  /** Records an attempt's outcome and frees the lease; false when `claimer` no longer holds it (it expired and another took it). */
  finishWebhookDelivery(id: string, claimer: string, outcome: WebhookOutcome): Promise<boolean>;
  /** The delivery log, newest first, at most `limit`, of one webhook or of all. */
  listWebhookDeliveries(webhookId: number | null, limit: number): Promise<WebhookDelivery[]>;
}

export interface NewWebhook {
  readonly name: string;
  readonly url: string;
  readonly secret: string;
  readonly createdAt: number;
}

/** A webhook as listed: its URL is kept whole, but shown only as origin + "/…" (it may carry a secret). */
export interface WebhookRecord {
  readonly id: number;
  readonly name: string;
  readonly url: string;
  readonly createdAt: number;
  readonly disabledAt: number | null;
}

export interface WebhookTarget {
  readonly id: number;
  readonly url: string;
  readonly secret: string;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface NewWebhookDelivery {
  readonly id: string;
  readonly webhookId: number;
  readonly kind: string;
  readonly subject: string;
  /** The exact JSON text sent on every attempt. */
  readonly body: string;
  readonly createdAt: number;
}

export interface WebhookDelivery extends NewWebhookDelivery {
  readonly status: WebhookDeliveryStatus;
  /** Attempts started, the current one included. */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  /** The HTTP status of the last attempt, null when none came back. */
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly deliveredAt: number | null;
}

export type WebhookOutcome =
  | { readonly status: 'delivered'; readonly httpStatus: number; readonly at: number }
  | {
      readonly status: 'pending' | 'failed';
      readonly httpStatus: number | null;
      readonly error: string;
      /** When to try again ('pending'); ignored for 'failed'. */
      readonly nextAttemptAt: number;
    };

/** Throws a message naming the problem when `url` is neither `sqlite:PATH` nor a postgres:// URL. */
export function checkStorageUrl(url: string): 'sqlite' | 'postgres' {
  if (url.startsWith('sqlite:') && url.length > 'sqlite:'.length) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  throw new Error(`--db must be sqlite:PATH or a postgres:// URL, not "${url.split(':')[0]}…"`);
}

/** Parses `--db`: `sqlite:PATH` or a `postgres://` URL (an optional `?schema=NAME` selects the schema). */
export async function openStorage(url: string): Promise<Storage> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (path.length === 0) throw new Error('--db sqlite: needs a file path, e.g. sqlite:/var/lib/halfkey/server.db');
    const { openSqliteStorage } = await import('./sqlite');
    return openSqliteStorage(path);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { openPostgresStorage } = await import('./postgres');
    return openPostgresStorage(url);
  }
  throw new Error(`--db must be sqlite:PATH or a postgres:// URL, not "${url.split(':')[0]}:…"`);
}

import type { TreeHead } from '../../shared/sync/receipt';
import type {
  Alarm,
  AlarmKind,
  CustodianKey,
  DeviceRecord,
  IncidentRecord,
  LogNode,
  NewWebhook,
  NewWebhookDelivery,
  ReviewerGrant,
  StorageQueries,
  StoredEntry,
  StoredReview,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookOutcome,
  WebhookRecord,
  WebhookTarget,
} from './storage';

/** What an adapter provides: run SQL written with `?` placeholders, one statement at a time. */
export interface SqlExecutor {
  all(sql: string, params: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params: readonly SqlValue[]): Promise<number>;
}
export type SqlValue = string | number | null;

// PostgreSQL returns BIGINT as text; both adapters' rows go through these.
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * `(?,…),(?,…)…`: `count` rows of `width` placeholders, remembered per shape. A batch insert's
 * text is the same for every full chunk (250 entries × 11 columns: 7 KB), so it is built once,
 * not per statement; the shapes in use are few, and the cache is cleared past a bound.
 */
const PLACEHOLDERS = new Map<number, string>();
function placeholders(count: number, width: number): string {
  const shape = count * 64 + width;
  let text = PLACEHOLDERS.get(shape);
  if (text === undefined) {
    if (PLACEHOLDERS.size >= 512) PLACEHOLDERS.clear();
    const row = `(${'?,'.repeat(width - 1)}?)`;
    text = `${row},`.repeat(count - 1) + row;
    PLACEHOLDERS.set(shape, text);
  }
  return text;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const toDevice = (r: Record<string, unknown>): DeviceRecord => ({
  device: str(r.device),
  vault: str(r.vault),
  enrolledAt: num(r.enrolled_at),
  revokedAt: numOrNull(r.revoked_at),
  lastSeen: numOrNull(r.last_seen),
  headSeq: numOrNull(r.head_seq),
  headHash: strOrNull(r.head_hash),
  chainState: strOrNull(r.chain_state),
});

const toEntry = (r: Record<string, unknown>): StoredEntry => ({
  device: str(r.device),
  seq: num(r.seq),
  hash: str(r.hash),
  type: str(r.type),
  time: num(r.time),
  actor: strOrNull(r.actor),
  body: str(r.body),
  logIndex: num(r.log_index),
  receiptSize: num(r.receipt_size),
  receivedAt: num(r.received_at),
  breakGlass: num(r.break_glass) === 1,
});

const toHead = (r: Record<string, unknown>): TreeHead => ({
  size: num(r.size),
  root: str(r.root),
  timestamp: num(r.timestamp),
  signature: str(r.signature),
});

const ALARM_COLUMNS = 'id, device, kind, seq, message, evidence, raised_at';
const toAlarm = (r: Record<string, unknown>): Alarm => ({
  id: num(r.id),
  device: str(r.device),
  kind: str(r.kind) as AlarmKind,
  seq: numOrNull(r.seq),
  message: str(r.message),
  evidence: str(r.evidence),
  raisedAt: num(r.raised_at),
});

const ENTRY_COLUMNS = 'device, seq, hash, type, time, actor, body, log_index, receipt_size, received_at, break_glass';
/** ENTRY_COLUMNS of the entries table aliased `e`. */
const E_COLUMNS = ENTRY_COLUMNS.split(', ')
  .map((c) => `e.${c}`)
  .join(', ');

const INCIDENT_COLUMNS = 'id, device, vault, session, account, reference, reason, severity, outcome, opened_at, updated_at, ord';
const toIncident = (r: Record<string, unknown>): IncidentRecord => ({
  id: str(r.id),
  device: str(r.device),
  vault: str(r.vault),
  session: str(r.session),
  account: strOrNull(r.account),
  reference: strOrNull(r.reference),
  reason: strOrNull(r.reason),
  severity: strOrNull(r.severity),
  outcome: strOrNull(r.outcome),
  openedAt: num(r.opened_at),
  updatedAt: num(r.updated_at),
  ord: num(r.ord),
});

const REVIEW_COLUMNS = 'hash, subject_kind, subject_id, reviewer, body, log_index, received_at';
const toReview = (r: Record<string, unknown>): StoredReview => ({
  hash: str(r.hash),
  subjectKind: str(r.subject_kind) === 'alarm' ? 'alarm' : 'incident',
  subjectId: str(r.subject_id),
  reviewer: str(r.reviewer),
  body: str(r.body),
  logIndex: num(r.log_index),
  receivedAt: num(r.received_at),
});

/** The server's queries in the SQL both SQLite and PostgreSQL accept; adapters differ only in how they run it. */
export class RelationalQueries implements StorageQueries {
  constructor(private readonly sql: SqlExecutor) {}

  async insertEnrolToken(tokenHash: string, createdAt: number, expiresAt: number): Promise<void> {
    await this.sql.run('INSERT INTO enrol_tokens (token_hash, created_at, expires_at) VALUES (?, ?, ?)', [tokenHash, createdAt, expiresAt]);
  }

  async consumeEnrolToken(tokenHash: string, device: string, now: number): Promise<boolean> {
    const changed = await this.sql.run(
      'UPDATE enrol_tokens SET used_at = ?, used_by = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
      [now, device, tokenHash, now],
    );
    return changed === 1;
  }

  async insertDevice(device: string, vault: string, enrolledAt: number): Promise<boolean> {
    return (
      (await this.sql.run('INSERT INTO devices (device, vault, enrolled_at) VALUES (?, ?, ?) ON CONFLICT (device) DO NOTHING', [
        device,
        vault,
        enrolledAt,
      ])) === 1
    );
  }

  async getDevice(device: string): Promise<DeviceRecord | null> {
    const rows = await this.sql.all('SELECT * FROM devices WHERE device = ?', [device]);
    return rows[0] ? toDevice(rows[0]) : null;
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.sql.all('SELECT * FROM devices ORDER BY enrolled_at, device', [])).map(toDevice);
  }

  async revokeDevice(device: string, at: number): Promise<boolean> {
    return (await this.sql.run('UPDATE devices SET revoked_at = ? WHERE device = ? AND revoked_at IS NULL', [at, device])) === 1;
  }

  async touchDevice(device: string, at: number): Promise<void> {
    await this.sql.run('UPDATE devices SET last_seen = ? WHERE device = ?', [at, device]);
  }

  async setDeviceHead(device: string, headSeq: number, headHash: string, chainState: string, at: number): Promise<void> {
    await this.sql.run('UPDATE devices SET head_seq = ?, head_hash = ?, chain_state = ?, last_seen = ? WHERE device = ?', [
      headSeq,
      headHash,
      chainState,
      at,
      device,
    ]);
  }

  async insertCustodianKeys(keys: readonly CustodianKey[]): Promise<void> {
    for (const batch of chunks(keys, 200)) {
      await this.sql.run(
        `INSERT INTO custodian_keys (vault, signing_key, custodian, role, source) VALUES ${placeholders(batch.length, 5)} ON CONFLICT (vault, signing_key, source) DO NOTHING`,
        batch.flatMap((k) => [k.vault, k.signingKey, k.custodian, k.role, k.source]),
      );
    }
  }

  async revokeCustodianKey(vault: string, signingKey: string): Promise<void> {
    await this.sql.run('UPDATE custodian_keys SET revoked = 1 WHERE vault = ? AND signing_key = ?', [vault, signingKey]);
  }

  async grantReviewer(signingKey: string, name: string, at: number): Promise<void> {
    // A renewed grant starts at `at`; an active one keeps its date and takes only the new name.
    await this.sql.run(
      `INSERT INTO reviewers (signing_key, name, granted_at, revoked_at) VALUES (?, ?, ?, NULL)
       ON CONFLICT (signing_key) DO UPDATE SET name = excluded.name,
         granted_at = CASE WHEN reviewers.revoked_at IS NULL THEN reviewers.granted_at ELSE excluded.granted_at END,
         revoked_at = NULL`,
      [signingKey, name, at],
    );
  }

  async revokeReviewer(signingKey: string, at: number): Promise<boolean> {
    const revoked =
      (await this.sql.run('UPDATE reviewers SET revoked_at = ? WHERE signing_key = ? AND revoked_at IS NULL', [at, signingKey])) === 1;
    // Every reviewer request checks the grant too; deleting also keeps a later re-grant from reviving these.
    await this.sql.run('DELETE FROM reviewer_sessions WHERE reviewer_key = ?', [signingKey]);
    await this.sql.run('DELETE FROM reviewer_challenges WHERE reviewer_key = ?', [signingKey]);
    return revoked;
  }

  async listReviewers(): Promise<ReviewerGrant[]> {
    const rows = await this.sql.all('SELECT signing_key, name, granted_at, revoked_at FROM reviewers ORDER BY granted_at, signing_key', []);
    return rows.map((r) => ({
      signingKey: str(r.signing_key),
      name: str(r.name),
      grantedAt: num(r.granted_at),
      revokedAt: numOrNull(r.revoked_at),
    }));
  }

  async isReviewerKey(signingKey: string): Promise<boolean> {
    // Only the operator's grants count: a journal's `custodian.enrolled` with role reviewer is any vault admin's word.
    const rows = await this.sql.all('SELECT 1 AS found FROM reviewers WHERE signing_key = ? AND revoked_at IS NULL', [signingKey]);
    return rows.length > 0;
  }

  async rememberNonce(device: string, nonce: string, expiresAt: number): Promise<boolean> {
    return (
      (await this.sql.run('INSERT INTO nonces (device, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (device, nonce) DO NOTHING', [
        device,
        nonce,
        expiresAt,
      ])) === 1
    );
  }

  async nonceUsed(device: string, nonce: string): Promise<boolean> {
    return (await this.sql.all('SELECT 1 AS used FROM nonces WHERE device = ? AND nonce = ?', [device, nonce])).length > 0;
  }

  async takeRateToken(bucket: string, capacity: number, perSecond: number, now: number): Promise<boolean> {
    // Refill since the bucket's last take, capped at capacity; the update happens only when a
    // whole token is there, and RETURNING says whether it did. The same SQL runs on both dialects.
    // Time only moves forward for a bucket: a clock behind the bucket's (another process's, or
    // this one's set back) refills nothing and keeps the later time, instead of draining it.
    const later = 'excluded.updated_at > rate_buckets.updated_at';
    const refilled = `rate_buckets.tokens + (CASE WHEN ${later} THEN excluded.updated_at - rate_buckets.updated_at ELSE 0 END) * CAST(? AS DOUBLE PRECISION)`;
    const capped = `(CASE WHEN ${refilled} > CAST(? AS DOUBLE PRECISION) THEN CAST(? AS DOUBLE PRECISION) ELSE ${refilled} END)`;
    const perMs = perSecond / 1000;
    const rows = await this.sql.all(
      `INSERT INTO rate_buckets (bucket, tokens, updated_at) VALUES (?, CAST(? AS DOUBLE PRECISION), ?)
       ON CONFLICT (bucket) DO UPDATE SET tokens = ${capped} - 1, updated_at = CASE WHEN ${later} THEN excluded.updated_at ELSE rate_buckets.updated_at END
       WHERE ${capped} >= 1
       RETURNING tokens`,
      [bucket, capacity - 1, now, perMs, capacity, capacity, perMs, perMs, capacity, capacity, perMs],
    );
    return rows.length === 1;
  }

  async pruneRateBuckets(before: number): Promise<number> {
    return this.sql.run('DELETE FROM rate_buckets WHERE updated_at < ?', [before]);
  }

  async pruneNonces(now: number): Promise<number> {
    return this.sql.run('DELETE FROM nonces WHERE expires_at < ?', [now]);
  }

  async entriesBySeq(device: string, fromSeq: number, toSeq: number): Promise<StoredEntry[]> {
    const rows = await this.sql.all(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE device = ? AND seq >= ? AND seq <= ? ORDER BY seq`, [
      device,
      fromSeq,
      toSeq,
    ]);
    return rows.map(toEntry);
  }

  async rotatedDeviceKeys(device: string): Promise<string[]> {
    // The type is written out, not bound: the planner uses the partial index only for the literal.
    const rows = await this.sql.all(`SELECT body FROM entries WHERE device = ? AND type = 'device.key-rotated' ORDER BY seq`, [device]);
    return rows.flatMap((r) => {
      const key = (JSON.parse(String(r.body)) as { data?: { newDeviceKey?: unknown } }).data?.newDeviceKey;
      return typeof key === 'string' ? [key] : [];
    });
  }

  async insertEntries(entries: readonly StoredEntry[]): Promise<void> {
    for (const batch of chunks(entries, 250)) {
      await this.sql.run(
        `INSERT INTO entries (${ENTRY_COLUMNS}) VALUES ${placeholders(batch.length, 11)}`,
        batch.flatMap((e) => [
          e.device,
          e.seq,
          e.hash,
          e.type,
          e.time,
          e.actor,
          e.body,
          e.logIndex,
          e.receiptSize,
          e.receivedAt,
          e.breakGlass ? 1 : 0,
        ]),
      );
    }
  }

  async entriesByLogIndex(fromIndex: number, limit: number): Promise<StoredEntry[]> {
    return (
      await this.sql.all(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE log_index >= ? ORDER BY log_index LIMIT ?`, [fromIndex, limit])
    ).map(toEntry);
  }

  async incidentBySession(device: string, session: string): Promise<IncidentRecord | null> {
    const rows = await this.sql.all(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE device = ? AND session = ?`, [device, session]);
    return rows[0] ? toIncident(rows[0]) : null;
  }

  async getIncident(id: string): Promise<IncidentRecord | null> {
    const rows = await this.sql.all(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE id = ?`, [id]);
    return rows[0] ? toIncident(rows[0]) : null;
  }

  async insertIncident(i: IncidentRecord): Promise<boolean> {
    return (
      (await this.sql.run(
        `INSERT INTO incidents (${INCIDENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [i.id, i.device, i.vault, i.session, i.account, i.reference, i.reason, i.severity, i.outcome, i.openedAt, i.updatedAt, i.ord],
      )) === 1
    );
  }

  async updateIncident(
    id: string,
    u: Pick<IncidentRecord, 'updatedAt' | 'outcome' | 'reference' | 'reason' | 'severity' | 'account'>,
  ): Promise<void> {
    await this.sql.run(
      `UPDATE incidents SET updated_at = ?, outcome = COALESCE(?, outcome), reference = COALESCE(reference, ?),
         reason = COALESCE(reason, ?), severity = COALESCE(severity, ?), account = COALESCE(account, ?) WHERE id = ?`,
      [u.updatedAt, u.outcome, u.reference, u.reason, u.severity, u.account, id],
    );
  }

  async linkIncidentEntries(incident: string, device: string, seqs: readonly number[]): Promise<void> {
    for (const batch of chunks(seqs, 300)) {
      await this.sql.run(
        `INSERT INTO incident_entries (incident, device, seq) VALUES ${placeholders(batch.length, 3)} ON CONFLICT DO NOTHING`,
        batch.flatMap((seq) => [incident, device, seq]),
      );
    }
  }

  async listIncidents(open: boolean, afterOrd: number, limit: number): Promise<IncidentRecord[]> {
    const unreviewed = open
      ? "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.subject_kind = 'incident' AND r.subject_id = incidents.id)"
      : '';
    const rows = await this.sql.all(`SELECT ${INCIDENT_COLUMNS} FROM incidents WHERE ord > ? ${unreviewed} ORDER BY ord LIMIT ?`, [
      afterOrd,
      limit,
    ]);
    return rows.map(toIncident);
  }

  async incidentEntries(incident: string, afterSeq: number, limit: number): Promise<StoredEntry[]> {
    const rows = await this.sql.all(
      `SELECT ${E_COLUMNS} FROM incident_entries l JOIN entries e ON e.device = l.device AND e.seq = l.seq WHERE l.incident = ? AND l.seq > ? ORDER BY l.seq LIMIT ?`,
      [incident, afterSeq, limit],
    );
    return rows.map(toEntry);
  }

  async linkAlarmEntries(alarm: number, device: string, seqs: readonly number[]): Promise<void> {
    for (const batch of chunks(seqs, 300)) {
      await this.sql.run(
        `INSERT INTO alarm_entries (alarm, device, seq) VALUES ${placeholders(batch.length, 3)} ON CONFLICT DO NOTHING`,
        batch.flatMap((seq) => [alarm, device, seq]),
      );
    }
  }

  async alarmEntries(alarm: number, limit: number): Promise<StoredEntry[]> {
    const rows = await this.sql.all(
      `SELECT ${E_COLUMNS} FROM alarm_entries l JOIN entries e ON e.device = l.device AND e.seq = l.seq WHERE l.alarm = ? ORDER BY e.seq LIMIT ?`,
      [alarm, limit],
    );
    return rows.map(toEntry);
  }

  async getAlarm(id: number): Promise<Alarm | null> {
    const rows = await this.sql.all(`SELECT ${ALARM_COLUMNS} FROM alarms WHERE id = ?`, [id]);
    return rows[0] ? toAlarm(rows[0]) : null;
  }

  async listReviewAlarms(open: boolean, afterId: number, limit: number): Promise<Alarm[]> {
    // The subject id of an alarm's review is its id in decimal.
    const unreviewed = open
      ? "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.subject_kind = 'alarm' AND r.subject_id = CAST(alarms.id AS TEXT))"
      : '';
    const rows = await this.sql.all(`SELECT ${ALARM_COLUMNS} FROM alarms WHERE id > ? ${unreviewed} ORDER BY id LIMIT ?`, [afterId, limit]);
    return rows.map(toAlarm);
  }

  async checkoutEntry(device: string, checkout: string, beforeSeq: number): Promise<StoredEntry | null> {
    // Checkout ids are plain (letters, digits, hyphens): nothing in one is a LIKE wildcard.
    if (!/^[A-Za-z0-9-]{1,128}$/.test(checkout)) return null;
    const rows = await this.sql.all(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE device = ? AND type = 'checkout.opened' AND seq < ? AND body LIKE ? ORDER BY seq DESC LIMIT 8`,
      [device, beforeSeq, `%"checkout":"${checkout}"%`],
    );
    const found = rows.map(toEntry).find((e) => (JSON.parse(e.body) as { data?: { checkout?: unknown } }).data?.checkout === checkout);
    return found ?? null;
  }

  async custodiansOfKey(vault: string, signingKey: string): Promise<string[]> {
    const rows = await this.sql.all('SELECT DISTINCT custodian FROM custodian_keys WHERE vault = ? AND signing_key = ?', [
      vault,
      signingKey,
    ]);
    return rows.map((r) => str(r.custodian));
  }

  async silentDevices(before: number, limit: number): Promise<DeviceRecord[]> {
    const rows = await this.sql.all(
      `SELECT * FROM devices d WHERE d.revoked_at IS NULL AND COALESCE(d.last_seen, d.enrolled_at) < ?
         AND NOT EXISTS (SELECT 1 FROM alarms a WHERE a.device = d.device AND a.kind = 'DEVICE_SILENT'
           AND a.offered_hash = CAST(COALESCE(d.last_seen, d.enrolled_at) AS TEXT))
       ORDER BY d.device LIMIT ?`,
      [before, limit],
    );
    return rows.map(toDevice);
  }

  async insertReview(r: StoredReview): Promise<boolean> {
    return (
      (await this.sql.run(`INSERT INTO reviews (${REVIEW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, [
        r.hash,
        r.subjectKind,
        r.subjectId,
        r.reviewer,
        r.body,
        r.logIndex,
        r.receivedAt,
      ])) === 1
    );
  }

  async reviewOf(subjectKind: 'incident' | 'alarm', subjectId: string): Promise<StoredReview | null> {
    const rows = await this.sql.all(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE subject_kind = ? AND subject_id = ?`, [
      subjectKind,
      subjectId,
    ]);
    return rows[0] ? toReview(rows[0]) : null;
  }

  async reviewsOf(subjectKind: 'incident' | 'alarm', subjectIds: readonly string[]): Promise<Map<string, StoredReview>> {
    const out = new Map<string, StoredReview>();
    for (const batch of chunks([...new Set(subjectIds)], 300)) {
      const rows = await this.sql.all(
        `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE subject_kind = ? AND subject_id IN (${batch.map(() => '?').join(',')})`,
        [subjectKind, ...batch],
      );
      for (const r of rows.map(toReview)) out.set(r.subjectId, r);
    }
    return out;
  }

  async reviewsInLogRange(fromIndex: number, toIndex: number): Promise<StoredReview[]> {
    const rows = await this.sql.all(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE log_index >= ? AND log_index < ? ORDER BY log_index`, [
      fromIndex,
      toIndex,
    ]);
    return rows.map(toReview);
  }

  async getLogNodes(keys: readonly number[]): Promise<Map<number, string>> {
    return this.hashesByNumber('SELECT node_key AS k, hash FROM log_nodes WHERE node_key IN', keys);
  }

  async entryHashesAt(logIndexes: readonly number[]): Promise<Map<number, string>> {
    const out = await this.hashesByNumber('SELECT log_index AS k, hash FROM entries WHERE log_index IN', logIndexes);
    // Reviews are few: only the indexes no entry holds are looked up among them.
    const rest = logIndexes.filter((i) => !out.has(i));
    if (rest.length > 0)
      for (const [k, h] of await this.hashesByNumber('SELECT log_index AS k, hash FROM reviews WHERE log_index IN', rest)) out.set(k, h);
    return out;
  }

  /** Runs `select (?, ?, …)` over the distinct numbers in chunks; rows give k and hash. */
  private async hashesByNumber(select: string, numbers: readonly number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const batch of chunks([...new Set(numbers)], 500)) {
      for (const r of await this.sql.all(`${select} (${batch.map(() => '?').join(',')})`, batch)) out.set(num(r.k), str(r.hash));
    }
    return out;
  }

  async insertLogNodes(nodes: readonly LogNode[]): Promise<void> {
    for (const batch of chunks(nodes, 500)) {
      await this.sql.run(
        `INSERT INTO log_nodes (node_key, hash) VALUES ${placeholders(batch.length, 2)}`,
        batch.flatMap((n) => [n.key, n.hash]),
      );
    }
  }

  async insertTreeHead(head: TreeHead): Promise<void> {
    await this.sql.run('INSERT INTO tree_heads (size, root, timestamp, signature) VALUES (?, ?, ?, ?)', [
      head.size,
      head.root,
      head.timestamp,
      head.signature,
    ]);
  }

  async replaceTreeHead(previous: TreeHead, next: TreeHead): Promise<boolean> {
    if (next.size !== previous.size || next.root !== previous.root)
      throw new Error('a tree head can be replaced only by one of the same size and root');
    const changed = await this.sql.run('UPDATE tree_heads SET timestamp = ?, signature = ? WHERE size = ? AND root = ? AND signature = ?', [
      next.timestamp,
      next.signature,
      previous.size,
      previous.root,
      previous.signature,
    ]);
    if (changed !== 1) return false;
    await this.sql.run(
      'INSERT INTO tree_head_signatures (size, root, timestamp, signature) VALUES (?, ?, ?, ?) ON CONFLICT (size, signature) DO NOTHING',
      [previous.size, previous.root, previous.timestamp, previous.signature],
    );
    return true;
  }

  async previousTreeHeads(size: number): Promise<TreeHead[]> {
    return (
      await this.sql.all('SELECT size, root, timestamp, signature FROM tree_head_signatures WHERE size = ? ORDER BY timestamp, signature', [
        size,
      ])
    ).map(toHead);
  }

  async latestTreeHead(): Promise<TreeHead | null> {
    const rows = await this.sql.all('SELECT size, root, timestamp, signature FROM tree_heads ORDER BY size DESC LIMIT 1', []);
    return rows[0] ? toHead(rows[0]) : null;
  }

  async treeHeadAt(size: number): Promise<TreeHead | null> {
    const rows = await this.sql.all('SELECT size, root, timestamp, signature FROM tree_heads WHERE size = ?', [size]);
    return rows[0] ? toHead(rows[0]) : null;
  }

  async insertAlarm(alarm: Omit<Alarm, 'id'> & { readonly offeredHash?: string }): Promise<number | null> {
    // The unique index (device, kind, seq, offered_hash) drops a resent conflict, and alarms_silent
    // a silence already raised; NULL never conflicts.
    const rows = await this.sql.all(
      'INSERT INTO alarms (device, kind, seq, message, evidence, raised_at, offered_hash) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id',
      [alarm.device, alarm.kind, alarm.seq, alarm.message, alarm.evidence, alarm.raisedAt, alarm.offeredHash ?? null],
    );
    return rows[0] ? num(rows[0].id) : null;
  }

  async listAlarms(device: string | null): Promise<Alarm[]> {
    const rows =
      device === null
        ? await this.sql.all(`SELECT ${ALARM_COLUMNS} FROM alarms ORDER BY id`, [])
        : await this.sql.all(`SELECT ${ALARM_COLUMNS} FROM alarms WHERE device = ? ORDER BY id`, [device]);
    return rows.map(toAlarm);
  }

  async alarmsAfter(afterId: number, limit: number): Promise<Alarm[]> {
    return (await this.sql.all(`SELECT ${ALARM_COLUMNS} FROM alarms WHERE id > ? ORDER BY id LIMIT ?`, [afterId, limit])).map(toAlarm);
  }

  async alarmCounts(): Promise<Map<string, number>> {
    const rows = await this.sql.all('SELECT device, COUNT(*) AS n FROM alarms GROUP BY device', []);
    return new Map(rows.map((r) => [str(r.device), num(r.n)]));
  }

  async insertChallenge(challenge: string, reviewerKey: string, expiresAt: number): Promise<void> {
    await this.sql.run('INSERT INTO reviewer_challenges (challenge, reviewer_key, expires_at) VALUES (?, ?, ?)', [
      challenge,
      reviewerKey,
      expiresAt,
    ]);
  }

  async consumeChallenge(challenge: string, now: number): Promise<string | null> {
    const rows = await this.sql.all('DELETE FROM reviewer_challenges WHERE challenge = ? RETURNING reviewer_key, expires_at', [challenge]);
    const row = rows[0];
    return row && num(row.expires_at) > now ? str(row.reviewer_key) : null;
  }

  async insertSession(tokenHash: string, reviewerKey: string, expiresAt: number): Promise<void> {
    await this.sql.run('INSERT INTO reviewer_sessions (token_hash, reviewer_key, expires_at) VALUES (?, ?, ?)', [
      tokenHash,
      reviewerKey,
      expiresAt,
    ]);
  }

  async sessionReviewer(tokenHash: string, now: number): Promise<string | null> {
    const rows = await this.sql.all('SELECT reviewer_key FROM reviewer_sessions WHERE token_hash = ? AND expires_at > ?', [tokenHash, now]);
    return rows[0] ? str(rows[0].reviewer_key) : null;
  }

  async insertWebhook(webhook: NewWebhook): Promise<number> {
    const rows = await this.sql.all('INSERT INTO webhooks (name, url, secret, created_at) VALUES (?, ?, ?, ?) RETURNING id', [
      webhook.name,
      webhook.url,
      webhook.secret,
      webhook.createdAt,
    ]);
    return num(rows[0]!.id);
  }

  async disableWebhook(id: number, at: number): Promise<boolean> {
    // The secret goes with the webhook: nothing signs with it again.
    const disabled =
      (await this.sql.run("UPDATE webhooks SET disabled_at = ?, secret = '' WHERE id = ? AND disabled_at IS NULL", [at, id])) === 1;
    if (!disabled) return false;
    await this.sql.run(
      `UPDATE webhook_deliveries SET status = 'failed', last_error = 'the webhook was removed before delivery', claimed_by = NULL, claimed_until = NULL
       WHERE webhook_id = ? AND status = 'pending'`,
      [id],
    );
    return true;
  }

  async listWebhooks(): Promise<WebhookRecord[]> {
    const rows = await this.sql.all('SELECT id, name, url, created_at, disabled_at FROM webhooks ORDER BY id', []);
    return rows.map((r) => ({
      id: num(r.id),
      name: str(r.name),
      url: str(r.url),
      createdAt: num(r.created_at),
      disabledAt: numOrNull(r.disabled_at),
    }));
  }

  async webhookTargets(): Promise<WebhookTarget[]> {
    const rows = await this.sql.all('SELECT id, url, secret FROM webhooks WHERE disabled_at IS NULL ORDER BY id', []);
    return rows.map((r) => ({ id: num(r.id), url: str(r.url), secret: str(r.secret) }));
  }

  async insertWebhookDeliveries(deliveries: readonly NewWebhookDelivery[]): Promise<void> {
    for (const batch of chunks(deliveries, 100)) {
      await this.sql.run(
        `INSERT INTO webhook_deliveries (id, webhook_id, kind, subject, body, status, attempts, created_at, next_attempt_at)
         VALUES ${placeholders(batch.length, 9)}`,
        batch.flatMap((d) => [d.id, d.webhookId, d.kind, d.subject, d.body, 'pending', 0, d.createdAt, d.createdAt]),
      );
    }
  }

  async claimWebhookDeliveries(claimer: string, now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]> {
    // A read first, so an idle poll never takes SQLite's write lock. The update repeats the
    // conditions: PostgreSQL re-checks them on a row another process claimed meanwhile (its
    // update waits for the other to commit, then skips the row), and SQLite runs it alone.
    const due = await this.sql.all(
      `SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
       ORDER BY next_attempt_at, id LIMIT ?`,
      [now, now, limit],
    );
    if (due.length === 0) return [];
    const ids = due.map((r) => str(r.id));
    const rows = await this.sql.all(
      `UPDATE webhook_deliveries SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1
       WHERE id IN (${ids.map(() => '?').join(',')}) AND status = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
       RETURNING ${DELIVERY_COLUMNS}`,
      [claimer, leaseUntil, ...ids, now, now],
    );
    return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || (a.id < b.id ? -1 : 1));
  }

  async finishWebhookDelivery(id: string, claimer: string, outcome: WebhookOutcome): Promise<boolean> {
    const changed =
      outcome.status === 'delivered'
        ? await this.sql.run(
            `UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, last_status = ?, last_error = NULL, claimed_by = NULL, claimed_until = NULL
             WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
            [outcome.at, outcome.httpStatus, id, claimer],
          )
        : await this.sql.run(
            `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status = ?, last_error = ?, claimed_by = NULL, claimed_until = NULL
             WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
            [outcome.status, outcome.nextAttemptAt, outcome.httpStatus, outcome.error, id, claimer],
          );
    return changed === 1;
  }

  async listWebhookDeliveries(webhookId: number | null, limit: number): Promise<WebhookDelivery[]> {
    const rows =
      webhookId === null
        ? await this.sql.all(`SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries ORDER BY created_at DESC, id DESC LIMIT ?`, [limit])
        : await this.sql.all(
            `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
            [webhookId, limit],
          );
    return rows.map(toDelivery);
  }
}

const DELIVERY_COLUMNS =
  'id, webhook_id, kind, subject, body, status, attempts, created_at, next_attempt_at, last_status, last_error, delivered_at';
const toDelivery = (r: Record<string, unknown>): WebhookDelivery => ({
  id: str(r.id),
  webhookId: num(r.webhook_id),
  kind: str(r.kind),
  subject: str(r.subject),
  body: str(r.body),
  status: str(r.status) as WebhookDeliveryStatus,
  attempts: num(r.attempts),
  createdAt: num(r.created_at),
  nextAttemptAt: num(r.next_attempt_at),
  lastStatus: numOrNull(r.last_status),
  lastError: strOrNull(r.last_error),
  deliveredAt: numOrNull(r.delivered_at),
});

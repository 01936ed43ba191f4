import { prepared, type Db } from '../base/database';

export type SessionState = 'opened' | 'password-used' | 'mfa-used' | 'closed';
export type Half = 'password' | 'mfa';

/** A break-glass session as stored (migrations/0001_break_glass.sql). */
export interface SessionRow {
  readonly id: string;
  readonly account_id: string;
  readonly reference: string;
  readonly reason: string;
  readonly severity: 'critical' | 'high' | 'medium' | 'low';
  readonly lease_minutes: number;
  readonly state: SessionState;
  readonly opened_at: number;
  readonly opened_by: string;
  readonly password_checkout: string | null;
  readonly password_custodian: string | null;
  readonly password_generation: number | null;
  readonly password_used_at: number | null;
  readonly password_lease_until: number | null;
  readonly mfa_checkout: string | null;
  readonly mfa_custodian: string | null;
  readonly mfa_generation: number | null;
  readonly mfa_used_at: number | null;
  readonly mfa_lease_until: number | null;
  readonly closed_at: number | null;
  readonly closed_by: string | null;
  readonly outcome: 'resolved' | 'aborted' | null;
  readonly note: string | null;
  readonly rotated_at: number | null;
  readonly run: string | null;
  readonly interrupted_at: number | null;
}

/** One half's use as a session records it. */
export interface HalfUse {
  readonly checkout: string;
  readonly custodian: string;
  readonly generation: number;
  readonly usedAt: number;
  readonly leaseUntil: number;
}

/** What a used half looks like in a row, read back by item. */
export function halfUseOf(row: SessionRow, item: Half): HalfUse | null {
  const checkout = item === 'password' ? row.password_checkout : row.mfa_checkout;
  const custodian = item === 'password' ? row.password_custodian : row.mfa_custodian;
  if (checkout === null || custodian === null) return null;
  const generation = (item === 'password' ? row.password_generation : row.mfa_generation) ?? 0;
  const usedAt = (item === 'password' ? row.password_used_at : row.mfa_used_at) ?? 0;
  const leaseUntil = (item === 'password' ? row.password_lease_until : row.mfa_lease_until) ?? 0;
  return { checkout, custodian, generation, usedAt, leaseUntil };
}

// One statement per half: the column names come from this fixed table, never from input.
const USE_HALF: Readonly<Record<Half, string>> = {
  password: `UPDATE break_glass_sessions SET state = 'password-used', password_checkout = ?, password_custodian = ?, password_generation = ?,
             password_used_at = ?, password_lease_until = ?, run = ? WHERE id = ? AND state = 'opened'`,
  mfa: `UPDATE break_glass_sessions SET state = 'mfa-used', mfa_checkout = ?, mfa_custodian = ?, mfa_generation = ?,
        mfa_used_at = ?, mfa_lease_until = ?, run = ? WHERE id = ? AND state = 'password-used'`,
};

/** Every SQL statement of break-glass, over the vault's database; writes join the caller's transaction. */
export class BreakGlassStore {
  constructor(private readonly db: Db) {}

  /** Runs `change` in one transaction: `immediate` takes the write lock up front. */
  transaction<T>(change: () => T, mode: 'immediate' | 'deferred' = 'immediate'): T {
    const run = this.db.transaction(change);
    return mode === 'immediate' ? run.immediate() : run.deferred();
  }

  session(id: string): SessionRow | null {
    return prepared<[string], SessionRow>(this.db, 'SELECT * FROM break_glass_sessions WHERE id = ?').get(id) ?? null;
  }

  /** The account's session that is not closed yet, or null. */
  openSessionOf(accountId: string): SessionRow | null {
    return (
      prepared<[string], SessionRow>(this.db, "SELECT * FROM break_glass_sessions WHERE account_id = ? AND state <> 'closed'").get(
        accountId,
      ) ?? null
    );
  }

  /** Sessions, newest first: not closed only when `open`, or also closed ones still awaiting rotation. */
  sessions(filter: { readonly accountId?: string | undefined; readonly open: boolean; readonly limit: number }): SessionRow[] {
    const account = filter.accountId ?? null;
    if (filter.open)
      return prepared<[string | null, string | null, number], SessionRow>(
        this.db,
        `SELECT * FROM break_glass_sessions WHERE (state <> 'closed' OR rotated_at IS NULL) AND (? IS NULL OR account_id = ?)
         ORDER BY opened_at DESC, id LIMIT ?`,
      ).all(account, account, filter.limit);
    return prepared<[string | null, string | null, number], SessionRow>(
      this.db,
      'SELECT * FROM break_glass_sessions WHERE (? IS NULL OR account_id = ?) ORDER BY opened_at DESC, id LIMIT ?',
    ).all(account, account, filter.limit);
  }

  insert(s: {
    id: string;
    accountId: string;
    reference: string;
    reason: string;
    severity: SessionRow['severity'];
    leaseMinutes: number;
    openedAt: number;
    openedBy: string;
    run: string;
  }): void {
    prepared(
      this.db,
      `INSERT INTO break_glass_sessions (id, account_id, reference, reason, severity, lease_minutes, state, opened_at, opened_by, run)
       VALUES (?, ?, ?, ?, ?, ?, 'opened', ?, ?, ?)`,
    ).run(s.id, s.accountId, s.reference, s.reason, s.severity, s.leaseMinutes, s.openedAt, s.openedBy, s.run);
  }

  /** Records a half's use and moves the session on; false when the session was not at that step any more. */
  useHalf(id: string, item: Half, use: HalfUse, run: string): boolean {
    return (
      prepared(this.db, USE_HALF[item]).run(use.checkout, use.custodian, use.generation, use.usedAt, use.leaseUntil, run, id).changes === 1
    );
  }

  close(
    id: string,
    c: { closedAt: number; closedBy: string; outcome: 'resolved' | 'aborted'; note: string; rotatedAt: number | null },
  ): void {
    prepared(
      this.db,
      `UPDATE break_glass_sessions SET state = 'closed', closed_at = ?, closed_by = ?, outcome = ?, note = ?, rotated_at = ?,
       run = NULL, interrupted_at = NULL WHERE id = ?`,
    ).run(c.closedAt, c.closedBy, c.outcome, c.note, c.rotatedAt, id);
  }

  /** Sessions a run that never closed cleanly was acting on: not closed, still held, not yet marked. */
  stranded(): SessionRow[] {
    return prepared<[], SessionRow>(
      this.db,
      "SELECT * FROM break_glass_sessions WHERE state <> 'closed' AND run IS NOT NULL AND interrupted_at IS NULL",
    ).all();
  }

  markInterrupted(id: string, at: number): void {
    prepared(this.db, 'UPDATE break_glass_sessions SET interrupted_at = ?, run = NULL WHERE id = ?').run(at, id);
  }

  resume(id: string, run: string): void {
    prepared(this.db, 'UPDATE break_glass_sessions SET interrupted_at = NULL, run = ? WHERE id = ?').run(run, id);
  }

  /** A run closing cleanly lets go of the sessions it held: they are paused, not interrupted. */
  release(run: string): void {
    prepared(this.db, 'UPDATE break_glass_sessions SET run = NULL WHERE run = ?').run(run);
  }

  rotated(id: string, at: number): void {
    prepared(this.db, 'UPDATE break_glass_sessions SET rotated_at = ? WHERE id = ? AND rotated_at IS NULL').run(at, id);
  }
}

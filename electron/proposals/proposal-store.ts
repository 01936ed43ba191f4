import type { JsonObject } from '../../shared/journal/canonical';
import type { Roster } from '../../shared/journal/dual-control';
import type { Db } from '../base/database';

export type ProposalState = 'open' | 'applied' | 'withdrawn' | 'expired';

/** One proposal as stored: the change exactly as the proposer signed it. */
export interface ProposalRecord {
  readonly id: string;
  readonly type: string;
  readonly account: string | null;
  readonly change: JsonObject;
  readonly proposer: string;
  readonly proposedAt: number;
  readonly expiresAt: number;
  readonly sig: string;
  readonly state: ProposalState;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
}

interface ProposalRow {
  id: string;
  type: string;
  account: string | null;
  change: string;
  proposer: string;
  proposed_at: number;
  expires_at: number;
  sig: string;
  state: ProposalState;
  decided_by: string | null;
  decided_at: number | null;
}

function recordOf(row: ProposalRow): ProposalRecord {
  return {
    id: row.id,
    type: row.type,
    account: row.account,
    change: JSON.parse(row.change) as JsonObject,
    proposer: row.proposer,
    proposedAt: row.proposed_at,
    expiresAt: row.expires_at,
    sig: row.sig,
    state: row.state,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
  };
}

/** The proposals table and the roster reads dual control needs; every statement of the feature is here. */
export class ProposalStore {
  constructor(private readonly db: Db) {}

  insert(p: Omit<ProposalRecord, 'state' | 'decidedBy' | 'decidedAt'>, changeText: string): void {
    this.db
      .prepare('INSERT INTO proposals (id, type, account, change, proposer, proposed_at, expires_at, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(p.id, p.type, p.account, changeText, p.proposer, p.proposedAt, p.expiresAt, p.sig);
  }

  get(id: string): ProposalRecord | null {
    const row = this.db.prepare('SELECT * FROM proposals WHERE id = ?').get(id) as ProposalRow | undefined;
    return row === undefined ? null : recordOf(row);
  }

  list(state: ProposalState | undefined, limit: number): ProposalRecord[] {
    const rows = (
      state === undefined
        ? this.db.prepare('SELECT * FROM proposals ORDER BY proposed_at DESC, rowid DESC LIMIT ?').all(limit)
        : this.db.prepare('SELECT * FROM proposals WHERE state = ? ORDER BY proposed_at DESC, rowid DESC LIMIT ?').all(state, limit)
    ) as ProposalRow[];
    return rows.map(recordOf);
  }

  /** Open proposals whose time ran out. */
  expiredOpen(now: number): ProposalRecord[] {
    return (this.db.prepare("SELECT * FROM proposals WHERE state = 'open' AND expires_at < ?").all(now) as ProposalRow[]).map(recordOf);
  }

  /** Moves an open proposal to a final state; false when it was no longer open. */
  decide(id: string, state: Exclude<ProposalState, 'open'>, by: string | null, at: number): boolean {
    return (
      this.db
        .prepare("UPDATE proposals SET state = ?, decided_by = ?, decided_at = ? WHERE id = ? AND state = 'open'")
        .run(state, by, at, id).changes === 1
    );
  }

  /** The vault's roster as dual control reads it (roles, live keys), from the custodians table. */
  roster(): Roster {
    const rows = this.db.prepare('SELECT id, role, signing_key, revoked FROM custodians').all() as {
      id: string;
      role: string;
      signing_key: string;
      revoked: number;
    }[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const byKey = new Map(rows.map((r) => [r.signing_key, r.id]));
    return {
      roleOf: (id) => byId.get(id)?.role,
      liveKeysOf: (id) => {
        const row = byId.get(id);
        return row === undefined || row.revoked === 1 ? [] : [row.signing_key];
      },
      ownerOf: (key) => byKey.get(key),
      enrolledCount: rows.length,
    };
  }
}

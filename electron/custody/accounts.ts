import { accountInputSchema, type AccountSummary } from '../../shared/api/channels/custody';
import { HalfkeyError } from '../../shared/api/result';
import type { CustodyItem } from '../../shared/policy/four-eyes';
import { actingCustodian, journal, statement, validated, type CustodyContext } from './context';

/** An account row as stored. */
export interface AccountRow {
  readonly id: string;
  readonly alias: string;
  readonly root_email: string;
  readonly organisation: string;
  readonly phone: string | null;
  readonly notes: string;
  readonly exclusive_checkout: 0 | 1;
  readonly rotate_after_checkout: 0 | 1;
}

/** A half's row as stored. */
export interface HalfRow {
  readonly account_id: string;
  readonly item: 'password' | 'mfa';
  readonly kind: 'password' | 'totp' | 'hardware-token';
  readonly generation: number;
  readonly set_at: number;
  readonly token_serial: string | null;
  readonly token_location: string | null;
  readonly rotation_due: 0 | 1;
}

/** The account or a NOT_FOUND error naming it. */
export function requireAccount(ctx: CustodyContext, accountId: string): AccountRow {
  const row = statement(ctx, 'SELECT * FROM custody_accounts WHERE id = ?').get(accountId) as AccountRow | undefined;
  if (!row) throw new HalfkeyError('NOT_FOUND', `There is no account ${accountId} in this vault; add it first.`, { accountId });
  return row;
}

/** The half's row, or null if it has never been set. */
export function findHalf(ctx: CustodyContext, accountId: string, item: 'password' | 'mfa'): HalfRow | null {
  return (statement(ctx, 'SELECT * FROM custody_halves WHERE account_id = ? AND item = ?').get(accountId, item) as HalfRow | undefined) ?? null;
}

/** Custodian ids assigned an item of an account. */
export function assigneesOf(ctx: CustodyContext, accountId: string, item: CustodyItem): string[] {
  return (statement(ctx, 'SELECT custodian_id FROM custody_assignments WHERE account_id = ? AND item = ? ORDER BY custodian_id').all(accountId, item) as { custodian_id: string }[]).map(
    (r) => r.custodian_id,
  );
}

/** Adds an account (admins only); the details are validated here too, so the CLI gets the same checks as the app. */
export function addAccount(ctx: CustodyContext, by: string, input: unknown): AccountSummary {
  const actor = actingCustodian(ctx, by);
  if (actor.role !== 'admin') throw new HalfkeyError('NOT_PERMITTED', `Only an admin can add accounts; custodian ${by} is a ${actor.role}.`);
  const a = validated(accountInputSchema, input, 'account');
  ctx.db.transaction(() => {
    if (statement(ctx, 'SELECT 1 FROM custody_accounts WHERE id = ?').get(a.accountId)) {
      throw new HalfkeyError('CONFLICT', `Account ${a.accountId} is already in this vault.`, { accountId: a.accountId });
    }
    statement(ctx, 
        `INSERT INTO custody_accounts (id, alias, root_email, organisation, phone, notes, exclusive_checkout, rotate_after_checkout, created_at, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(a.accountId, a.alias, a.rootEmail, a.organisation, a.phone, a.notes, a.exclusiveCheckout ? 1 : 0, a.rotateAfterCheckout ? 1 : 0, ctx.now(), by);
    // Notes are free text and stay out of the journal; the rest identifies the account to a reviewer.
    journal(ctx, 'account.added', actor, a.accountId, {
      alias: a.alias,
      rootEmail: a.rootEmail,
      organisation: a.organisation,
      phone: a.phone,
      exclusiveCheckout: a.exclusiveCheckout,
      rotateAfterCheckout: a.rotateAfterCheckout,
    });
  }).immediate();
  return getAccount(ctx, a.accountId);
}

interface ListedRow extends AccountRow {
  open_checkouts: number;
  p_kind: HalfRow['kind'] | null;
  p_generation: number | null;
  p_set_at: number | null;
  p_rotation_due: 0 | 1 | null;
  m_kind: HalfRow['kind'] | null;
  m_generation: number | null;
  m_set_at: number | null;
  m_rotation_due: 0 | 1 | null;
  m_token_serial: string | null;
  m_token_location: string | null;
  /** `item:custodian` pairs joined by commas (custodian ids have no commas or colons). */
  assigned: string | null;
}

function parseAssignments(assigned: string | null): { item: CustodyItem; custodianId: string }[] {
  if (assigned === null || assigned === '') return [];
  return assigned.split(',').map((pair) => {
    const at = pair.indexOf(':');
    return { item: pair.slice(0, at) as CustodyItem, custodianId: pair.slice(at + 1) };
  });
}

const LIST_SELECT = `SELECT a.*,
  (SELECT count(*) FROM custody_checkouts c WHERE c.account_id = a.id AND c.closed_at IS NULL) AS open_checkouts,
  p.kind AS p_kind, p.generation AS p_generation, p.set_at AS p_set_at, p.rotation_due AS p_rotation_due,
  m.kind AS m_kind, m.generation AS m_generation, m.set_at AS m_set_at, m.rotation_due AS m_rotation_due,
  m.token_serial AS m_token_serial, m.token_location AS m_token_location,
  (SELECT group_concat(s.item || ':' || s.custodian_id, ',') FROM (SELECT item, custodian_id FROM custody_assignments WHERE account_id = a.id ORDER BY item, custodian_id) s) AS assigned
  FROM ACCOUNTS a
  LEFT JOIN custody_halves p ON p.account_id = a.id AND p.item = 'password'
  LEFT JOIN custody_halves m ON m.account_id = a.id AND m.item = 'mfa'`;

/** The summary query over a set of accounts: `from` is a table expression aliased as the accounts. */
const summarySelect = (from: string): string => LIST_SELECT.replace('ACCOUNTS', from);

const SEARCH_WHERE = `WHERE @search = '' OR a.id LIKE @pattern ESCAPE '\\' OR a.alias LIKE @pattern ESCAPE '\\' OR a.root_email LIKE @pattern ESCAPE '\\' OR a.organisation LIKE @pattern ESCAPE '\\'`;

/** One account with its halves' state and assignments. */
export function getAccount(ctx: CustodyContext, accountId: string): AccountSummary {
  const row = statement(ctx, `${summarySelect('custody_accounts')} WHERE a.id = ?`).get(accountId) as ListedRow | undefined;
  if (!row) throw new HalfkeyError('NOT_FOUND', `There is no account ${accountId} in this vault.`, { accountId });
  return summaries([row])[0]!;
}

/** Lists accounts, optionally filtered by a case-insensitive substring of id, alias, root e-mail or organisation. */
export function listAccounts(ctx: CustodyContext, query: { search: string; limit: number; offset: number }): { total: number; accounts: AccountSummary[] } {
  const search = query.search.trim();
  const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const total = (statement(ctx, `SELECT count(*) AS n FROM custody_accounts a ${SEARCH_WHERE}`).get({ search, pattern }) as { n: number }).n;
  // The page is chosen first from the accounts table alone (walking the order index), and only its
  // rows get the joins and subqueries.
  const page = `(SELECT * FROM custody_accounts a ${SEARCH_WHERE} ORDER BY a.alias COLLATE NOCASE, a.id LIMIT @limit OFFSET @offset)`;
  const rows = statement(ctx, `${summarySelect(page)} ORDER BY a.alias COLLATE NOCASE, a.id`)
    .all({ search, pattern, limit: query.limit, offset: query.offset }) as ListedRow[];
  return { total, accounts: summaries(rows) };
}

function summaries(rows: readonly ListedRow[]): AccountSummary[] {
  return rows.map((r) => {
    const password =
      r.p_kind === null ? null : { kind: r.p_kind, generation: r.p_generation ?? 0, setAt: r.p_set_at ?? 0, rotationDue: r.p_rotation_due === 1, tokenSerial: null, tokenLocation: null };
    const mfa =
      r.m_kind === null
        ? null
        : { kind: r.m_kind, generation: r.m_generation ?? 0, setAt: r.m_set_at ?? 0, rotationDue: r.m_rotation_due === 1, tokenSerial: r.m_token_serial, tokenLocation: r.m_token_location };
    return {
      accountId: r.id,
      alias: r.alias,
      rootEmail: r.root_email,
      organisation: r.organisation,
      phone: r.phone,
      notes: r.notes,
      exclusiveCheckout: r.exclusive_checkout === 1,
      rotateAfterCheckout: r.rotate_after_checkout === 1,
      password,
      mfa,
      rotationDue: (password?.rotationDue ?? false) || (mfa?.rotationDue ?? false),
      openCheckouts: r.open_checkouts,
      assignments: parseAssignments(r.assigned),
    };
  });
}

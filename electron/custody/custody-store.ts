import type { AccountInput, AccountSummary } from '../../shared/api/channels/custody';
import type { CustodyItem, CustodyRef, PolicyState } from '../../shared/policy/four-eyes';
import { prepared, type Db } from '../base/database';

/** A half that has a secret: the password or the TOTP seed. */
export type SecretHalf = 'password' | 'mfa';

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
  /** The organisations named as holding the root inbox and the recovery phone (custody.channel-organisation-set), or null. */
  readonly email_organisation: string | null;
  readonly phone_organisation: string | null;
}

/** A half's row as stored. */
export interface HalfRow {
  readonly account_id: string;
  readonly item: SecretHalf;
  readonly kind: 'password' | 'totp' | 'hardware-token';
  readonly generation: number;
  readonly set_at: number;
  readonly token_serial: string | null;
  readonly token_location: string | null;
  readonly rotation_due: 0 | 1;
}

/** A rotation written but not yet confirmed: the generation that becomes current when it is. */
export interface PendingRotationRow {
  readonly account_id: string;
  readonly item: SecretHalf;
  readonly generation: number;
  readonly rotated_at: number;
  readonly rotated_by: string;
}

/** A checkout row as stored. */
export interface CheckoutRow {
  readonly id: string;
  readonly account_id: string;
  readonly item: SecretHalf;
  readonly custodian_id: string;
  readonly hardware_token: 0 | 1;
  readonly reason: string;
  readonly ticket: string | null;
  readonly opened_at: number;
  readonly lease_until: number;
  readonly closed_at: number | null;
  readonly close_kind: 'checked-in' | 'expired' | null;
}

/** A seed-export request row as stored. */
export interface SeedExportRow {
  readonly id: string;
  readonly account_id: string;
  readonly requested_by: string;
  readonly reason: string;
  readonly requested_at: number;
  readonly expires_at: number;
  readonly generation: number;
  readonly approved_by: string | null;
  readonly collected_at: number | null;
  /** The proposal a second custodian approves (seed-export.approved); null for requests made before exports were proposals. */
  readonly proposal_id: string | null;
}

/** A new generation of a half, as written: who set it and, for a hardware token, where it is. */
export interface HalfWrite {
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly kind: HalfRow['kind'];
  readonly generation: number;
  readonly setAt: number;
  readonly setBy: string;
  readonly token: { readonly serial: string; readonly location: string } | null;
}

/** A new checkout, as written. */
export interface CheckoutWrite {
  readonly id: string;
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly custodianId: string;
  readonly hardwareToken: boolean;
  readonly reason: string;
  readonly ticket: string | null;
  readonly openedAt: number;
  readonly leaseUntil: number;
}

/** Which checkouts to list. */
export interface CheckoutFilter {
  readonly accountId?: string | undefined;
  readonly custodianId?: string | undefined;
  readonly open: boolean;
  readonly limit: number;
}

/** A page of accounts, optionally narrowed by a case-insensitive substring of id, alias, root e-mail or organisation. */
export interface AccountQuery {
  readonly search: string;
  readonly limit: number;
  readonly offset: number;
}

/** A row of the account summary query: the account, its halves' state and its assignments. */
interface SummaryRow extends AccountRow {
  open_checkouts: number;
  p_kind: HalfRow['kind'] | null;
  p_generation: number | null;
  p_set_at: number | null;
  p_rotation_due: 0 | 1 | null;
  p_pending: number | null;
  m_kind: HalfRow['kind'] | null;
  m_generation: number | null;
  m_set_at: number | null;
  m_rotation_due: 0 | 1 | null;
  m_pending: number | null;
  m_token_serial: string | null;
  m_token_location: string | null;
  /** `item:custodian` pairs joined by commas (custodian ids have no commas or colons). */
  assigned: string | null;
}

const SUMMARY_SELECT = `SELECT a.*,
  (SELECT count(*) FROM custody_checkouts c WHERE c.account_id = a.id AND c.closed_at IS NULL) AS open_checkouts,
  p.kind AS p_kind, p.generation AS p_generation, p.set_at AS p_set_at, p.rotation_due AS p_rotation_due,
  m.kind AS m_kind, m.generation AS m_generation, m.set_at AS m_set_at, m.rotation_due AS m_rotation_due,
  m.token_serial AS m_token_serial, m.token_location AS m_token_location,
  (SELECT generation FROM custody_pending_rotations r WHERE r.account_id = a.id AND r.item = 'password') AS p_pending,
  (SELECT generation FROM custody_pending_rotations r WHERE r.account_id = a.id AND r.item = 'mfa') AS m_pending,
  (SELECT group_concat(s.item || ':' || s.custodian_id, ',') FROM (SELECT item, custodian_id FROM custody_assignments WHERE account_id = a.id ORDER BY item, custodian_id) s) AS assigned
  FROM ACCOUNTS a
  LEFT JOIN custody_halves p ON p.account_id = a.id AND p.item = 'password'
  LEFT JOIN custody_halves m ON m.account_id = a.id AND m.item = 'mfa'`;

/** The summary query over a set of accounts: `from` is a table expression aliased as the accounts. */
const summarySelect = (from: string): string => SUMMARY_SELECT.replace('ACCOUNTS', from);

const SEARCH_WHERE = `WHERE @search = '' OR a.id LIKE @pattern ESCAPE '\\' OR a.alias LIKE @pattern ESCAPE '\\' OR a.root_email LIKE @pattern ESCAPE '\\' OR a.organisation LIKE @pattern ESCAPE '\\'`;
// The page is chosen first from the accounts table alone (walking the order index), and only its
// rows get the joins and subqueries.
const PAGE = `(SELECT * FROM custody_accounts a ${SEARCH_WHERE} ORDER BY a.alias COLLATE NOCASE, a.id LIMIT @limit OFFSET @offset)`;

type Search = { search: string; pattern: string };

/**
 * Every SQL statement of custody, over the vault's database: accounts, halves and their sealed
 * copies, assignments, sightings, checkouts and their leases, seed-export requests. Statements
 * are prepared once per connection; writes join the caller's transaction.
 */
export class CustodyStore {
  constructor(private readonly db: Db) {}

  /** Runs `change` in one transaction: `immediate` takes the write lock up front, `deferred` only when it writes. */
  transaction<T>(change: () => T, mode: 'immediate' | 'deferred'): T {
    const run = this.db.transaction(change);
    return mode === 'immediate' ? run.immediate() : run.deferred();
  }

  // Accounts.

  /** The account, or null. */
  account(accountId: string): AccountRow | null {
    return prepared<[string], AccountRow>(this.db, 'SELECT * FROM custody_accounts WHERE id = ?').get(accountId) ?? null;
  }

  addAccount(a: AccountInput, createdAt: number, createdBy: string): void {
    prepared(
      this.db,
      `INSERT INTO custody_accounts (id, alias, root_email, organisation, phone, notes, exclusive_checkout, rotate_after_checkout, created_at, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      a.accountId,
      a.alias,
      a.rootEmail,
      a.organisation,
      a.phone,
      a.notes,
      a.exclusiveCheckout ? 1 : 0,
      a.rotateAfterCheckout ? 1 : 0,
      createdAt,
      createdBy,
    );
  }

  /** One account with its halves' state and assignments, or null. */
  accountSummary(accountId: string): AccountSummary | null {
    const row = prepared<[string], SummaryRow>(this.db, `${summarySelect('custody_accounts')} WHERE a.id = ?`).get(accountId);
    return row === undefined ? null : summary(row);
  }

  /** How many accounts match, and the page of them asked for, by alias (case-insensitive) then id. */
  accountPage(query: AccountQuery): { total: number; accounts: AccountSummary[] } {
    const search = query.search.trim();
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const total =
      prepared<[Search], { n: number }>(this.db, `SELECT count(*) AS n FROM custody_accounts a ${SEARCH_WHERE}`).get({ search, pattern })
        ?.n ?? 0;
    const rows = prepared<[Search & { limit: number; offset: number }], SummaryRow>(
      this.db,
      `${summarySelect(PAGE)} ORDER BY a.alias COLLATE NOCASE, a.id`,
    ).all({
      search,
      pattern,
      limit: query.limit,
      offset: query.offset,
    });
    return { total, accounts: rows.map(summary) };
  }

  // Halves and their sealed copies.

  /** The half, or null if it has never been set. */
  half(accountId: string, item: SecretHalf): HalfRow | null {
    return (
      prepared<[string, SecretHalf], HalfRow>(this.db, 'SELECT * FROM custody_halves WHERE account_id = ? AND item = ?').get(
        accountId,
        item,
      ) ?? null
    );
  }

  /** Writes a half's new generation over the old one; it is not due for rotation. */
  writeHalf(h: HalfWrite): void {
    prepared(
      this.db,
      `INSERT INTO custody_halves (account_id, item, kind, generation, set_at, set_by, token_serial, token_location, rotation_due)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)
       ON CONFLICT (account_id, item) DO UPDATE SET kind = excluded.kind, generation = excluded.generation, set_at = excluded.set_at,
         set_by = excluded.set_by, token_serial = excluded.token_serial, token_location = excluded.token_location, rotation_due = 0`,
    ).run(h.accountId, h.item, h.kind, h.generation, h.setAt, h.setBy, h.token?.serial ?? null, h.token?.location ?? null);
  }

  /** Records where the account's hardware token now is. */
  moveToken(accountId: string, location: string): void {
    prepared(this.db, "UPDATE custody_halves SET token_location = ? WHERE account_id = ? AND item = 'mfa'").run(location, accountId);
  }

  /** Marks the account's password half due for rotation. */
  passwordRotationDue(accountId: string): void {
    prepared(this.db, "UPDATE custody_halves SET rotation_due = 1 WHERE account_id = ? AND item = 'password'").run(accountId);
  }

  /** The copy of a half sealed to one custodian at `generation`, or null when none was sealed to them. */
  sealedCopy(accountId: string, item: SecretHalf, custodianId: string, generation: number): Uint8Array | null {
    const sql = 'SELECT blob FROM custody_sealed WHERE account_id = ? AND item = ? AND custodian_id = ? AND generation = ?';
    return (
      prepared<[string, SecretHalf, string, number], { blob: Uint8Array }>(this.db, sql).get(accountId, item, custodianId, generation)
        ?.blob ?? null
    );
  }

  addSealedCopy(accountId: string, item: SecretHalf, custodianId: string, generation: number, blob: Uint8Array): void {
    prepared(
      this.db,
      'INSERT OR REPLACE INTO custody_sealed (account_id, item, custodian_id, generation, blob) VALUES (?, ?, ?, ?, ?)',
    ).run(accountId, item, custodianId, generation, blob);
  }

  /** The custodians holding a sealed copy of the half. */
  holders(accountId: string, item: SecretHalf): string[] {
    return prepared<[string, SecretHalf], { custodian_id: string }>(
      this.db,
      'SELECT custodian_id FROM custody_sealed WHERE account_id = ? AND item = ?',
    )
      .all(accountId, item)
      .map((r) => r.custodian_id);
  }

  /** Deletes the half's sealed copies: every holder's, or one custodian's. */
  dropSealedCopies(accountId: string, item: SecretHalf, custodianId?: string): void {
    if (custodianId === undefined) prepared(this.db, 'DELETE FROM custody_sealed WHERE account_id = ? AND item = ?').run(accountId, item);
    else
      prepared(this.db, 'DELETE FROM custody_sealed WHERE account_id = ? AND item = ? AND custodian_id = ?').run(
        accountId,
        item,
        custodianId,
      );
  }

  // Pending rotations: a new generation waiting to be confirmed, sealed beside the current one.

  /** The half's pending rotation, or null. */
  pendingRotation(accountId: string, item: SecretHalf): PendingRotationRow | null {
    return (
      prepared<[string, SecretHalf], PendingRotationRow>(
        this.db,
        'SELECT * FROM custody_pending_rotations WHERE account_id = ? AND item = ?',
      ).get(accountId, item) ?? null
    );
  }

  addPendingRotation(r: PendingRotationRow): void {
    const sql = 'INSERT INTO custody_pending_rotations (account_id, item, generation, rotated_at, rotated_by) VALUES (?, ?, ?, ?, ?)';
    prepared(this.db, sql).run(r.account_id, r.item, r.generation, r.rotated_at, r.rotated_by);
  }

  addPendingSealedCopy(accountId: string, item: SecretHalf, custodianId: string, generation: number, blob: Uint8Array): void {
    prepared(this.db, 'INSERT INTO custody_pending_sealed (account_id, item, custodian_id, generation, blob) VALUES (?, ?, ?, ?, ?)').run(
      accountId,
      item,
      custodianId,
      generation,
      blob,
    );
  }

  /** Deletes a custodian's copy of the pending generation (they lost the half before it was confirmed). */
  dropPendingSealedCopy(accountId: string, item: SecretHalf, custodianId: string): void {
    prepared(this.db, 'DELETE FROM custody_pending_sealed WHERE account_id = ? AND item = ? AND custodian_id = ?').run(
      accountId,
      item,
      custodianId,
    );
  }

  /** Deletes the pending rotation and its sealed copies (abandoned, or confirmed after they were moved). */
  dropPendingRotation(accountId: string, item: SecretHalf): void {
    prepared(this.db, 'DELETE FROM custody_pending_sealed WHERE account_id = ? AND item = ?').run(accountId, item);
    prepared(this.db, 'DELETE FROM custody_pending_rotations WHERE account_id = ? AND item = ?').run(accountId, item);
  }

  /**
   * Makes the pending generation current: its sealed copies replace the retired generation's, the
   * half takes its number and is no longer due for rotation, and the pending rows go.
   */
  promotePendingRotation(r: PendingRotationRow, at: number): void {
    const { account_id: account, item } = r;
    this.dropSealedCopies(account, item);
    prepared(
      this.db,
      'INSERT INTO custody_sealed (account_id, item, custodian_id, generation, blob) SELECT account_id, item, custodian_id, generation, blob FROM custody_pending_sealed WHERE account_id = ? AND item = ?',
    ).run(account, item);
    prepared(
      this.db,
      'UPDATE custody_halves SET generation = ?, set_at = ?, set_by = ?, rotation_due = 0 WHERE account_id = ? AND item = ?',
    ).run(r.generation, at, r.rotated_by, account, item);
    this.dropPendingRotation(account, item);
  }

  // Assignments and sightings: what the four-eyes policy reads.

  /** Custodian ids assigned an item of an account, in id order. */
  assignees(accountId: string, item: CustodyItem): string[] {
    const sql = 'SELECT custodian_id FROM custody_assignments WHERE account_id = ? AND item = ? ORDER BY custodian_id';
    return prepared<[string, CustodyItem], { custodian_id: string }>(this.db, sql)
      .all(accountId, item)
      .map((r) => r.custodian_id);
  }

  assign(accountId: string, item: CustodyItem, custodianId: string, assignedAt: number, assignedBy: string): void {
    prepared(
      this.db,
      'INSERT INTO custody_assignments (account_id, item, custodian_id, assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?)',
    ).run(accountId, item, custodianId, assignedAt, assignedBy);
  }

  unassign(accountId: string, item: CustodyItem, custodianId: string): void {
    prepared(this.db, 'DELETE FROM custody_assignments WHERE account_id = ? AND item = ? AND custodian_id = ?').run(
      accountId,
      item,
      custodianId,
    );
  }

  /** Who holds and who has seen which item of one account: the account's part of the policy state. */
  custodyOf(accountId: string): Pick<PolicyState, 'assignments' | 'seen'> {
    type Ref = { item: CustodyItem; custodian_id: string };
    const toRef = (r: Ref): CustodyRef => ({ accountId, item: r.item, custodianId: r.custodian_id });
    return {
      assignments: prepared<[string], Ref>(this.db, 'SELECT item, custodian_id FROM custody_assignments WHERE account_id = ?')
        .all(accountId)
        .map(toRef),
      seen: prepared<[string], Ref>(this.db, 'SELECT item, custodian_id FROM custody_seen WHERE account_id = ?').all(accountId).map(toRef),
    };
  }

  /** Records that a custodian obtained an item (`how`: reveal, copy, code, token, seed export, set, rotate); the first sighting stays. */
  recordSeen(accountId: string, item: CustodyItem, custodianId: string, generation: number, at: number, how: string): void {
    prepared(
      this.db,
      'INSERT OR IGNORE INTO custody_seen (account_id, item, custodian_id, generation, first_seen_at, how) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(accountId, item, custodianId, generation, at, how);
  }

  /** Forgets who has seen the item (it rotated). */
  forgetSightings(accountId: string, item: CustodyItem): void {
    prepared(this.db, 'DELETE FROM custody_seen WHERE account_id = ? AND item = ?').run(accountId, item);
  }

  // Checkouts and their leases.

  /** The checkout, or null. */
  checkout(checkoutId: string): CheckoutRow | null {
    return prepared<[string], CheckoutRow>(this.db, 'SELECT * FROM custody_checkouts WHERE id = ?').get(checkoutId) ?? null;
  }

  openCheckout(c: CheckoutWrite): void {
    prepared(
      this.db,
      `INSERT INTO custody_checkouts (id, account_id, item, custodian_id, hardware_token, reason, ticket, opened_at, lease_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(c.id, c.accountId, c.item, c.custodianId, c.hardwareToken ? 1 : 0, c.reason, c.ticket, c.openedAt, c.leaseUntil);
  }

  /** Who holds an open checkout of the half (anyone's, or `custodianId`'s), or null. */
  openCheckoutOf(accountId: string, item: SecretHalf, custodianId?: string): { id: string; custodian_id: string } | null {
    const sql =
      'SELECT id, custodian_id FROM custody_checkouts WHERE account_id = ? AND item = ? AND (? IS NULL OR custodian_id = ?) AND closed_at IS NULL LIMIT 1';
    return (
      prepared<[string, SecretHalf, string | null, string | null], { id: string; custodian_id: string }>(this.db, sql).get(
        accountId,
        item,
        custodianId ?? null,
        custodianId ?? null,
      ) ?? null
    );
  }

  closeCheckout(checkoutId: string, closedAt: number, kind: 'checked-in' | 'expired'): void {
    prepared(this.db, 'UPDATE custody_checkouts SET closed_at = ?, close_kind = ? WHERE id = ?').run(closedAt, kind, checkoutId);
  }

  /** Open checkouts whose lease has run out by `now`. */
  expiredLeases(now: number): CheckoutRow[] {
    return prepared<[number], CheckoutRow>(this.db, 'SELECT * FROM custody_checkouts WHERE closed_at IS NULL AND lease_until <= ?').all(
      now,
    );
  }

  /** Checkouts, newest first, filtered by account and/or custodian; open ones only unless `open` is false. */
  checkouts(filter: CheckoutFilter): CheckoutRow[] {
    const sql = `SELECT * FROM custody_checkouts WHERE (@account IS NULL OR account_id = @account) AND (@custodian IS NULL OR custodian_id = @custodian)
       AND (@open = 0 OR closed_at IS NULL) ORDER BY opened_at DESC, id LIMIT @limit`;
    return prepared<[{ account: string | null; custodian: string | null; open: 0 | 1; limit: number }], CheckoutRow>(this.db, sql).all({
      account: filter.accountId ?? null,
      custodian: filter.custodianId ?? null,
      open: filter.open ? 1 : 0,
      limit: filter.limit,
    });
  }

  /** Every open checkout with its account's alias, by account then opening time: the live custody state. */
  openCheckoutsByAccount(): (CheckoutRow & { alias: string })[] {
    const sql =
      'SELECT c.*, a.alias FROM custody_checkouts c JOIN custody_accounts a ON a.id = c.account_id WHERE c.closed_at IS NULL ORDER BY c.account_id, c.opened_at, c.item DESC, c.id';
    return prepared<[], CheckoutRow & { alias: string }>(this.db, sql).all();
  }

  // Seed-export requests.

  /** The request, or null. */
  seedExport(requestId: string): SeedExportRow | null {
    return prepared<[string], SeedExportRow>(this.db, 'SELECT * FROM custody_seed_exports WHERE id = ?').get(requestId) ?? null;
  }

  addSeedExport(r: Omit<SeedExportRow, 'approved_by' | 'collected_at'>): void {
    const sql =
      'INSERT INTO custody_seed_exports (id, account_id, requested_by, reason, requested_at, expires_at, generation, proposal_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
    prepared(this.db, sql).run(r.id, r.account_id, r.requested_by, r.reason, r.requested_at, r.expires_at, r.generation, r.proposal_id);
  }

  /** Names the proposal a request waits on, and takes its times so the request lives exactly as long. */
  linkSeedExportProposal(requestId: string, proposalId: string, requestedAt: number, expiresAt: number): void {
    prepared(this.db, 'UPDATE custody_seed_exports SET proposal_id = ?, requested_at = ?, expires_at = ? WHERE id = ?').run(
      proposalId,
      requestedAt,
      expiresAt,
      requestId,
    );
  }

  approveSeedExport(requestId: string, approvedBy: string, approvedAt: number): void {
    prepared(this.db, 'UPDATE custody_seed_exports SET approved_by = ?, approved_at = ? WHERE id = ?').run(
      approvedBy,
      approvedAt,
      requestId,
    );
  }

  seedExportCollected(requestId: string, collectedAt: number): void {
    prepared(this.db, 'UPDATE custody_seed_exports SET collected_at = ? WHERE id = ?').run(collectedAt, requestId);
  }

  /** Requests neither expired by `now` nor collected, newest first; of one account, or of all. */
  openSeedExports(accountId: string | null, now: number): SeedExportRow[] {
    const sql =
      'SELECT * FROM custody_seed_exports WHERE (@account IS NULL OR account_id = @account) AND collected_at IS NULL AND expires_at > @now ORDER BY requested_at DESC, id';
    return prepared<[{ account: string | null; now: number }], SeedExportRow>(this.db, sql).all({ account: accountId, now });
  }
}

function summary(r: SummaryRow): AccountSummary {
  const password =
    r.p_kind === null
      ? null
      : {
          kind: r.p_kind,
          generation: r.p_generation ?? 0,
          setAt: r.p_set_at ?? 0,
          rotationDue: r.p_rotation_due === 1,
          pendingGeneration: r.p_pending,
          tokenSerial: null,
          tokenLocation: null,
        };
  const mfa =
    r.m_kind === null
      ? null
      : {
          kind: r.m_kind,
          generation: r.m_generation ?? 0,
          setAt: r.m_set_at ?? 0,
          rotationDue: r.m_rotation_due === 1,
          pendingGeneration: r.m_pending,
          tokenSerial: r.m_token_serial,
          tokenLocation: r.m_token_location,
        };
  return {
    accountId: r.id,
    alias: r.alias,
    rootEmail: r.root_email,
    organisation: r.organisation,
    phone: r.phone,
    emailOrganisation: r.email_organisation,
    phoneOrganisation: r.phone_organisation,
    notes: r.notes,
    exclusiveCheckout: r.exclusive_checkout === 1,
    rotateAfterCheckout: r.rotate_after_checkout === 1,
    password,
    mfa,
    rotationDue: (password?.rotationDue ?? false) || (mfa?.rotationDue ?? false),
    openCheckouts: r.open_checkouts,
    assignments: parseAssignments(r.assigned),
  };
}

function parseAssignments(assigned: string | null): { item: CustodyItem; custodianId: string }[] {
  if (assigned === null || assigned === '') return [];
  return assigned.split(',').map((pair) => {
    const at = pair.indexOf(':');
    return { item: pair.slice(0, at) as CustodyItem, custodianId: pair.slice(at + 1) };
  });
}

import type { RecoveryChannel } from '../../shared/policy/four-eyes';
import { prepared, type Db } from '../base/database';

/** An organisation record: compared by id, shown by name. */
export interface OrganisationRow {
  readonly id: string;
  readonly name: string;
  readonly name_key: string;
  readonly added_at: number;
  readonly origin: 'approved' | 'founding' | 'migrated';
}

/** The vault policy as stored (one row). */
export interface PolicyRow {
  readonly separate_organisations: 0 | 1;
  readonly max_lease_seconds: number;
  readonly idle_lock_seconds: number;
}

/** The folded form two organisation names are compared in: NFKC, lower case, spaces trimmed and collapsed ("DoiT " = "doit"). */
export function organisationKey(name: string): string {
  return name.normalize('NFKC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

/**
 * Every SQL statement of organisations, custodians' membership, the vault policy and the accounts'
 * recovery-channel organisations. Writes join the caller's transaction.
 */
export class OrganisationStore {
  constructor(private readonly db: Db) {}

  list(): OrganisationRow[] {
    return prepared<[], OrganisationRow>(this.db, 'SELECT * FROM custody_organisations ORDER BY name_key, id').all();
  }

  get(id: string): OrganisationRow | null {
    return prepared<[string], OrganisationRow>(this.db, 'SELECT * FROM custody_organisations WHERE id = ?').get(id) ?? null;
  }

  byKey(key: string): OrganisationRow | null {
    return prepared<[string], OrganisationRow>(this.db, 'SELECT * FROM custody_organisations WHERE name_key = ?').get(key) ?? null;
  }

  add(row: OrganisationRow): void {
    prepared(this.db, 'INSERT INTO custody_organisations (id, name, name_key, added_at, origin) VALUES (?, ?, ?, ?, ?)').run(
      row.id,
      row.name,
      row.name_key,
      row.added_at,
      row.origin,
    );
  }

  /** Custodian id → organisation id, for every custodian with a link. */
  memberships(): Map<string, string> {
    const rows = prepared<[], { custodian_id: string; organisation_id: string }>(
      this.db,
      'SELECT custodian_id, organisation_id FROM custody_custodian_organisations',
    ).all();
    return new Map(rows.map((r) => [r.custodian_id, r.organisation_id]));
  }

  /** Links a custodian to an organisation, replacing any earlier link. */
  link(custodianId: string, organisationId: string): void {
    prepared(
      this.db,
      'INSERT INTO custody_custodian_organisations (custodian_id, organisation_id) VALUES (?, ?) ON CONFLICT (custodian_id) DO UPDATE SET organisation_id = excluded.organisation_id',
    ).run(custodianId, organisationId);
  }

  policy(): PolicyRow | null {
    return (
      prepared<[], PolicyRow>(
        this.db,
        'SELECT separate_organisations, max_lease_seconds, idle_lock_seconds FROM custody_policy WHERE id = 1',
      ).get() ?? null
    );
  }

  writePolicy(p: PolicyRow): void {
    prepared(
      this.db,
      `INSERT INTO custody_policy (id, separate_organisations, max_lease_seconds, idle_lock_seconds) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET separate_organisations = excluded.separate_organisations,
         max_lease_seconds = excluded.max_lease_seconds, idle_lock_seconds = excluded.idle_lock_seconds`,
    ).run(p.separate_organisations, p.max_lease_seconds, p.idle_lock_seconds);
  }

  /** The organisations named as holding an account's root inbox and recovery phone (null when none is named). */
  channelOrganisations(accountId: string): { email: string | null; phone: string | null } {
    const row = prepared<[string], { email_organisation: string | null; phone_organisation: string | null }>(
      this.db,
      'SELECT email_organisation, phone_organisation FROM custody_accounts WHERE id = ?',
    ).get(accountId);
    return { email: row?.email_organisation ?? null, phone: row?.phone_organisation ?? null };
  }

  /** Every account's named channel organisations (for switching rule 3 on). */
  allChannelOrganisations(): { accountId: string; item: RecoveryChannel; organisation: string }[] {
    const rows = prepared<[], { id: string; email_organisation: string | null; phone_organisation: string | null }>(
      this.db,
      'SELECT id, email_organisation, phone_organisation FROM custody_accounts WHERE email_organisation IS NOT NULL OR phone_organisation IS NOT NULL',
    ).all();
    return rows.flatMap((r) => [
      ...(r.email_organisation === null ? [] : [{ accountId: r.id, item: 'email' as const, organisation: r.email_organisation }]),
      ...(r.phone_organisation === null ? [] : [{ accountId: r.id, item: 'phone' as const, organisation: r.phone_organisation }]),
    ]);
  }

  setChannelOrganisation(accountId: string, item: RecoveryChannel, organisationId: string | null): void {
    const sql =
      item === 'email'
        ? 'UPDATE custody_accounts SET email_organisation = ? WHERE id = ?'
        : 'UPDATE custody_accounts SET phone_organisation = ? WHERE id = ?';
    prepared(this.db, sql).run(organisationId, accountId);
  }

  /** Every assignment and sighting in the vault (for rule 3 over all accounts). */
  allCustody(): {
    assignments: { accountId: string; item: string; custodianId: string }[];
    seen: { accountId: string; item: string; custodianId: string }[];
  } {
    const rows = (table: 'custody_assignments' | 'custody_seen') =>
      prepared<[], { accountId: string; item: string; custodianId: string }>(
        this.db,
        `SELECT account_id AS accountId, item, custodian_id AS custodianId FROM ${table}`,
      ).all();
    return { assignments: rows('custody_assignments'), seen: rows('custody_seen') };
  }

  /** Whether the custodian has an open checkout of anything. */
  hasOpenCheckout(custodianId: string): boolean {
    return (
      prepared<[string], { n: number }>(
        this.db,
        'SELECT count(*) AS n FROM custody_checkouts WHERE custodian_id = ? AND closed_at IS NULL',
      ).get(custodianId)!.n > 0
    );
  }
}

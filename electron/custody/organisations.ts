import type { z } from 'zod';
import type { organisationChannels, OrganisationView } from '../../shared/api/channels/organisation';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { FOUNDING_CUSTODIANS } from '../../shared/journal/dual-control';
import { checkChannelOrganisation, checkOrganisationChange, describeItem, type RecoveryChannel } from '../../shared/policy/four-eyes';
import type { ApplyRun, ChangeKind, ProposalView } from '../proposals/proposal-service';
import type { CustodianRecord } from '../vault/custodians';
import type { CustodyContext, CustodyRequest } from './context';
import { organisationKey, type OrganisationRow } from './organisation-store';
import { enforce, plainCheck } from './refusal';

type OrganisationRequest<C extends keyof typeof organisationChannels> = z.output<(typeof organisationChannels)[C]['request']>;

const noControl = /^[^\p{Cc}]*$/u;
const ID = /^[0-9a-f]{32}$/;

/**
 * Organisations as records (docs/custody.md, "Organisations"): an id and a display name, compared
 * by id under rule 3. Adding one, moving a custodian to another and naming the organisation that
 * holds an account's root inbox or recovery phone are two-person changes. Organisations typed as
 * free text before they were records, and those of the founding pair, are adopted when custody opens.
 */
export class Organisations {
  constructor(private readonly ctx: CustodyContext) {}

  /** Registers the organisation changes and adds the organisation link to the vault's enrolment. */
  register(): void {
    const { proposals } = this.ctx.vault;
    proposals.register('organisation.added', {
      describe: (c) => `Add organisation ${String(c.name)}`,
      check: (c) => this.checkAdd(c),
      apply: (c, run) =>
        this.ctx.store.transaction(() => {
          this.checkAdd(c);
          this.ctx.organisations.add({
            id: String(c.organisation),
            name: String(c.name),
            name_key: organisationKey(String(c.name)),
            added_at: this.ctx.now(),
            origin: 'approved',
          });
          return { seq: run.commit().seq };
        }, 'immediate'),
    });
    proposals.register('custodian.organisation-changed', {
      describe: (c) => `Move ${this.custodianName(String(c.custodian))} to organisation ${this.organisationName(String(c.organisation))}`,
      check: (c) => plainCheck(() => this.checkMove(String(c.custodian), String(c.organisation))),
      apply: (c, run) => this.applyMove(String(c.custodian), String(c.organisation), run),
    });
    proposals.register('custody.channel-organisation-set', {
      describe: (c) =>
        `Name ${c.organisation === null ? 'no organisation' : `organisation ${this.organisationName(String(c.organisation))}`} as holding the ${describeItem(channelOf(c))} of account ${String(c.account)}`,
      check: (c) => plainCheck(() => this.checkChannel(c, '')),
      apply: (c, run) =>
        this.ctx.refusable(run.approver, () => {
          this.checkChannel(c, run.approver.id);
          this.ctx.organisations.setChannelOrganisation(
            String(c.account),
            channelOf(c),
            c.organisation === null ? null : String(c.organisation),
          );
          return { seq: run.commit().seq };
        }),
    });
    // An approved enrolment names an organisation that must exist; the newcomer is linked to it in
    // the enrolment's own transaction, and the entry carries the record's id.
    proposals.extend('custodian.enrolled', (inner: ChangeKind) => ({
      describe: inner.describe,
      check: (c) => {
        inner.check(c);
        this.requireOrganisation(String(c.organisation));
      },
      apply: (c, run) =>
        inner.apply(c, {
          ...run,
          commit: (details = {}, cosigners) => {
            const organisation = this.requireOrganisation(String(c.organisation));
            this.join(String(c.custodian), organisation);
            return run.commit({ ...details, organisationId: organisation.id }, cosigners);
          },
        }),
    }));
  }

  /** Every organisation, by name, with its members. */
  list(): OrganisationView[] {
    const members = new Map<string, string[]>();
    for (const [custodian, organisation] of this.ctx.organisations.memberships()) {
      members.set(organisation, [...(members.get(organisation) ?? []), custodian]);
    }
    return this.ctx.organisations.list().map((o) => ({
      id: o.id,
      name: o.name,
      origin: o.origin,
      addedAt: o.added_at,
      members: members.get(o.id) ?? [],
    }));
  }

  /** The organisation named by id, or by name ignoring case and spacing; null when there is none. */
  resolve(text: string): OrganisationRow | null {
    return (ID.test(text) ? this.ctx.organisations.get(text) : null) ?? this.ctx.organisations.byKey(organisationKey(text));
  }

  /** An admin proposes a new organisation. */
  proposeAdd(request: OrganisationRequest<'organisation:add'>): { proposal: ProposalView } {
    const change = { organisation: this.ctx.newId(), name: request.name };
    this.checkAdd(change);
    return { proposal: this.ctx.vault.proposals.propose(request.by, 'organisation.added', change) };
  }

  /** An admin proposes moving a custodian to another organisation; refused at once (and journaled) if rule 3 would refuse it. */
  proposeMove(request: OrganisationRequest<'custodian:organisation-change'>): { proposal: ProposalView } {
    const actor = this.ctx.presentCustodian(request.by);
    const organisation = this.requireOrganisation(request.organisation);
    const proposal = this.ctx.refusable(actor, () => {
      this.checkMove(request.custodianId, organisation.id);
      return this.ctx.vault.proposals.propose(actor.id, 'custodian.organisation-changed', {
        custodian: request.custodianId,
        organisation: organisation.id,
      });
    });
    return { proposal };
  }

  /** An admin proposes naming (or un-naming) the organisation holding an account's root inbox or recovery phone. */
  proposeChannel(request: CustodyRequest<'custody:channel-organisation'>): { proposal: ProposalView } {
    const actor = this.ctx.presentCustodian(request.by);
    const change = { item: request.item, organisation: request.organisationId };
    const proposal = this.ctx.refusable(actor, () => {
      this.checkChannel({ ...change, account: request.accountId }, actor.id);
      return this.ctx.vault.proposals.propose(actor.id, 'custody.channel-organisation-set', change, { account: request.accountId });
    });
    return { proposal };
  }

  /**
   * Adopts organisations typed as free text (custodians enrolled before organisations were records,
   * the founding pair, enrolments approved while custody was closed): each name, folded (see
   * organisationKey), becomes one record or joins the record of that name, the custodian is linked
   * to it and shown under its name, and each organisation touched is journaled as
   * `organisation.adopted` (device-signed). A linked custodian is never moved by this.
   */
  adoptUnlinked(): void {
    const { ctx } = this;
    ctx.store.transaction(() => {
      const linked = ctx.organisations.memberships();
      const adopted = new Map<string, { row: OrganisationRow; created: boolean; custodians: string[]; spellings: Set<string> }>();
      ctx.vault.custodians.list().forEach((c, index) => {
        if (linked.has(c.id)) return;
        let row = this.resolve(c.organisation);
        let created = false;
        if (row === null) {
          const name = c.organisation.normalize('NFKC').trim().replace(/\s+/gu, ' ');
          row = {
            id: ctx.newId(),
            name,
            name_key: organisationKey(name),
            added_at: ctx.now(),
            origin: index < FOUNDING_CUSTODIANS ? 'founding' : 'migrated',
          };
          ctx.organisations.add(row);
          created = true;
        }
        const entry = adopted.get(row.id) ?? { row, created, custodians: [], spellings: new Set<string>() };
        entry.custodians.push(c.id);
        entry.spellings.add(c.organisation);
        adopted.set(row.id, entry);
        this.join(c.id, row);
      });
      for (const { row, created, custodians, spellings } of adopted.values()) {
        ctx.journal('organisation.adopted', null, null, {
          organisation: row.id,
          name: row.name,
          origin: row.origin,
          created,
          custodians,
          spellings: [...spellings],
        });
      }
    }, 'immediate');
  }

  /** The organisation named by id or name, or NOT_FOUND saying how one is added. */
  requireOrganisation(text: string): OrganisationRow {
    const row = this.resolve(text);
    if (row === null)
      throw new HalfkeyError(
        'NOT_FOUND',
        `There is no organisation "${text}" in this vault; an admin proposes it (organisation:add, 'halfkey organisation add') and a second custodian approves it first.`,
        { organisation: text.slice(0, 100) },
      );
    return row;
  }

  private join(custodianId: string, organisation: OrganisationRow): void {
    this.ctx.organisations.link(custodianId, organisation.id);
    this.ctx.vault.custodians.setOrganisationName(custodianId, organisation.name);
  }

  private checkAdd(c: JsonObject): void {
    const name = c.name;
    if (typeof name !== 'string' || name.trim().length === 0 || name.length > 100 || !noControl.test(name))
      throw new HalfkeyError('INVALID_PAYLOAD', 'An organisation name is 1 to 100 characters without control characters.', {
        field: 'name',
      });
    if (typeof c.organisation !== 'string' || !ID.test(c.organisation))
      throw new HalfkeyError('INTERNAL', 'A stored organisation proposal has no id; the vault file was altered.');
    const same = this.ctx.organisations.byKey(organisationKey(name));
    if (same !== null)
      throw new HalfkeyError(
        'CONFLICT',
        `Organisation "${same.name}" (${same.id}) already exists; names are compared ignoring case and spacing, so "${name}" would be the same organisation.`,
        { organisationId: same.id },
      );
    if (this.ctx.organisations.get(c.organisation) !== null)
      throw new HalfkeyError('CONFLICT', `Organisation ${c.organisation} already exists.`);
  }

  /** Why a custodian cannot move to an organisation now: unknown or revoked, unknown organisation, already there, or rule 3. */
  private checkMove(custodianId: string, organisationId: string): void {
    const custodian = this.liveCustodian(custodianId);
    const organisation = this.ctx.organisations.get(organisationId);
    if (organisation === null) throw new HalfkeyError('NOT_FOUND', `There is no organisation ${organisationId} in this vault.`);
    if (this.ctx.organisations.memberships().get(custodianId) === organisationId)
      throw new HalfkeyError('CONFLICT', `${custodian.name} already belongs to organisation ${organisation.name}.`);
    enforce(
      checkOrganisationChange(this.ctx.vaultPolicyState(), { custodianId, organisation: organisationId }),
      'organisation-change',
      custodianId,
    );
  }

  private applyMove(custodianId: string, organisationId: string, run: ApplyRun): { seq: number } {
    return this.ctx.refusable(run.approver, () => {
      this.checkMove(custodianId, organisationId);
      const previous = this.ctx.organisations.memberships().get(custodianId) ?? null;
      const organisation = this.ctx.organisations.get(organisationId)!;
      this.join(custodianId, organisation);
      return { seq: run.commit({ name: organisation.name, previous }).seq };
    });
  }

  /** Why an account's channel organisation cannot be set now: unknown account or organisation, no change, or rule 3. */
  private checkChannel(c: JsonObject, actorId: string): void {
    const accountId = String(c.account);
    const item = channelOf(c);
    this.ctx.requireAccount(accountId);
    const organisation = c.organisation;
    if (organisation !== null && (typeof organisation !== 'string' || this.ctx.organisations.get(organisation) === null))
      throw new HalfkeyError('NOT_FOUND', `There is no organisation ${String(organisation)} in this vault.`);
    if (this.ctx.organisations.channelOrganisations(accountId)[item] === organisation)
      throw new HalfkeyError(
        'CONFLICT',
        `The ${describeItem(item)} of account ${accountId} is already ${organisation === null ? 'named with no organisation' : `held by organisation ${this.organisationName(organisation)}`}.`,
      );
    if (organisation === null) return;
    enforce(checkChannelOrganisation(this.ctx.policyState(accountId), { accountId, item, organisation }), 'channel-organisation', actorId);
  }

  private liveCustodian(id: string): CustodianRecord {
    const custodian = this.ctx.vault.custodians.get(id);
    if (custodian === null) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`, { custodianId: id });
    if (custodian.revoked) throw new HalfkeyError('CONFLICT', `${custodian.name} has been revoked.`, { custodianId: id });
    return custodian;
  }

  private custodianName(id: string): string {
    return this.ctx.vault.custodians.get(id)?.name ?? id;
  }

  private organisationName(id: string): string {
    return this.ctx.organisations.get(id)?.name ?? id;
  }
}

function channelOf(change: JsonObject): RecoveryChannel {
  if (change.item !== 'email' && change.item !== 'phone')
    throw new HalfkeyError('INTERNAL', 'A stored channel-organisation proposal names no recovery channel; the vault file was altered.');
  return change.item;
}

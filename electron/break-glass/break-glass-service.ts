import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { breakGlassChannels, BreakGlassSession } from '../../shared/api/channels/break-glass';
import type { AccountSummary } from '../../shared/api/channels/custody';
import { HalfkeyError, type ErrorCode } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { BREAK_GLASS_ENTRY_TYPES as T } from '../../shared/journal/entry-types';
import type { SignedEntry } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { migrate, type Db } from '../base/database';
import type { CustodyService } from '../custody/custody-service';
import type { AppendInput } from '../journal/store';
import type { CustodianRecord, UnlockedCustodian } from '../vault/custodians';
import { BreakGlassStore, halfUseOf, type Half, type HalfUse, type SessionRow } from './break-glass-store';
import { writeRunbookPdf, type RunbookHolder } from './runbook-pdf';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** A break-glass channel's request as the router hands it on: checked, defaults filled in. */
export type BreakGlassRequest<C extends keyof typeof breakGlassChannels> = z.output<(typeof breakGlassChannels)[C]['request']>;

/** The parts of an open vault break-glass uses; `Vault` satisfies it. */
export interface BreakGlassVault {
  readonly db: Db;
  readonly journal: { append(input: AppendInput): SignedEntry };
  readonly custodians: {
    get(id: string): CustodianRecord | null;
    unlocked(id: string): UnlockedCustodian;
    present(id: string): UnlockedCustodian;
  };
}

/** The parts of custody a session drives: account state, and checkouts (opened flagged break-glass, then used and checked in as any other). */
export type BreakGlassCustody = Pick<CustodyService, 'accounts' | 'checkouts'>;

export interface BreakGlassOptions {
  readonly now?: () => number;
}

const HALF_NAMES: Readonly<Record<Half, string>> = { password: 'password half', mfa: 'MFA half' };

/**
 * The break-glass ceremony on one workstation, with no server: a session names an incident; the
 * password custodian, then a different person holding the MFA half, each present, use their own
 * half through a checkout flagged break-glass; the session closes with an outcome and then tracks
 * the rotation of every half it used until each is confirmed. Every step is a `break-glass.*`
 * entry signed by the device and the custodian acting, written in the same transaction as the
 * step. A run of the app that stops without closing (killed, power lost) leaves its sessions
 * held; the next run marks them interrupted (journaled) until someone resumes or closes them.
 */
export class BreakGlassService {
  /** This run's id: what the sessions it acts on are held by until it closes cleanly. */
  private readonly run: string;

  private constructor(
    private readonly vault: BreakGlassVault,
    private readonly custody: BreakGlassCustody,
    private readonly store: BreakGlassStore,
    private readonly now: () => number,
    private readonly sodium: Sodium,
  ) {
    this.run = this.newId();
  }

  /** Applies the migrations and marks the sessions a run that never closed was in the middle of as interrupted. */
  static async open(vault: BreakGlassVault, custody: BreakGlassCustody, options: BreakGlassOptions = {}): Promise<BreakGlassService> {
    const sodium = await sodiumReady();
    migrate(vault.db, 'break-glass', MIGRATIONS);
    const service = new BreakGlassService(vault, custody, new BreakGlassStore(vault.db), options.now ?? Date.now, sodium);
    service.markInterrupted();
    return service;
  }

  /** A clean stop: the sessions this run held are paused, not interrupted. */
  close(): void {
    this.store.transaction(() => this.store.release(this.run));
  }

  /** Opens a session for an incident; the opener is a present custodian of one of the account's halves, or an admin. */
  openSession(request: BreakGlassRequest<'break-glass:open'>): BreakGlassSession {
    const actor = this.present(request.by);
    const { accountId, incident } = request;
    const account = this.custody.accounts.get(accountId);
    const holders = new Set(account.assignments.filter((a) => a.item === 'password' || a.item === 'mfa').map((a) => a.custodianId));
    if (actor.role !== 'admin' && !holders.has(actor.id)) {
      this.refuse(
        actor,
        null,
        accountId,
        'open',
        'NOT_PERMITTED',
        `${actor.name} holds neither half of account ${accountId} and is not an admin, so cannot open a break-glass session for it.`,
      );
    }
    for (const item of ['password', 'mfa'] as const) {
      const half = account[item];
      if (half === null)
        throw new HalfkeyError(
          'CONFLICT',
          `The ${HALF_NAMES[item]} of account ${accountId} has not been set, so a root sign-in is not possible.`,
          {
            accountId,
            item,
          },
        );
      if (half.kind === 'hardware-token')
        throw new HalfkeyError(
          'UNSUPPORTED',
          `The MFA half of account ${accountId} is a hardware token; a break-glass session uses a virtual MFA (TOTP) half. Check the token out with token-checkout.`,
          { accountId },
        );
    }
    const id = this.newId();
    this.store.transaction(() => {
      const open = this.store.openSessionOf(accountId);
      if (open !== null)
        throw new HalfkeyError(
          'CONFLICT',
          `Account ${accountId} already has an open break-glass session (${open.id}, incident ${open.reference}); continue or close that one.`,
          { accountId, sessionId: open.id },
        );
      const openedAt = this.now();
      this.store.insert({ id, accountId, ...incident, leaseMinutes: request.leaseMinutes, openedAt, openedBy: actor.id, run: this.run });
      this.journal(T.opened, actor, accountId, { session: id, ...incident, leaseMinutes: request.leaseMinutes });
    });
    return this.get(id);
  }

  /**
   * The password custodian uses the password half: a break-glass checkout and its step in one
   * transaction, then the password shown to them (`secret.revealed`, as any reveal).
   */
  async usePassword(
    request: BreakGlassRequest<'break-glass:use-password'>,
  ): Promise<{ session: BreakGlassSession; checkoutId: string; password: string; expiresAt: number }> {
    const checkoutId = this.useHalf(request.by, request.sessionId, 'password');
    const shown = await this.custody.checkouts.reveal({ by: request.by, checkoutId, seconds: request.seconds });
    return { session: this.get(request.sessionId), checkoutId, ...shown };
  }

  /** A different person, holding the MFA half, uses it: a break-glass checkout and its step, then the current code (never the seed). */
  async useMfa(request: BreakGlassRequest<'break-glass:use-mfa'>): Promise<{
    session: BreakGlassSession;
    checkoutId: string;
    code: string;
    remainingMs: number;
    period: number;
    digits: number;
  }> {
    const checkoutId = this.useHalf(request.by, request.sessionId, 'mfa');
    const { code, remainingMs, period, digits } = await this.custody.checkouts.totpCode({ by: request.by, checkoutId });
    return { session: this.get(request.sessionId), checkoutId, code, remainingMs, period, digits };
  }

  /**
   * Closes the session with its outcome. The closer's own break-glass checkout, if still open, is
   * checked in with it; every half the session used becomes due for rotation.
   */
  closeSession(request: BreakGlassRequest<'break-glass:close'>): BreakGlassSession {
    const actor = this.acting(request.by);
    const { outcome, note } = request;
    // Checked before the transaction, so the refusal's own entry is not rolled back with it.
    this.requireParticipant(actor, this.requireSession(request.sessionId), 'close');
    this.store.transaction(() => {
      const row = this.requireSession(request.sessionId);
      if (row.state === 'closed') throw this.conflict(row, `Break-glass session ${row.id} is already closed (${row.outcome ?? 'closed'}).`);
      if (outcome === 'resolved' && row.state !== 'mfa-used')
        throw this.conflict(
          row,
          `Break-glass session ${row.id} cannot be closed as resolved: ${row.state === 'opened' ? 'no half has been used' : 'the MFA half has not been used'}. Close it as aborted, or continue it.`,
        );
      const used = (['password', 'mfa'] as const).flatMap((item) => {
        const use = halfUseOf(row, item);
        return use === null ? [] : [{ item, use }];
      });
      const open = this.openCheckouts(row.account_id);
      const checkedIn: string[] = [];
      for (const { use } of used) {
        if (use.custodian === actor.id && open.has(use.checkout)) {
          this.custody.checkouts.checkin({ by: actor.id, checkoutId: use.checkout });
          checkedIn.push(use.checkout);
        }
      }
      const closedAt = this.now();
      this.store.close(row.id, { closedAt, closedBy: actor.id, outcome, note, rotatedAt: used.length === 0 ? closedAt : null });
      this.journal(T.closed, actor, row.account_id, {
        session: row.id,
        outcome,
        note,
        reached: row.state,
        ...(row.interrupted_at === null ? {} : { interruptedAt: row.interrupted_at }),
        rotationDue: used.map((u) => u.item),
        checkedIn,
        stillOut: used.filter((u) => open.has(u.use.checkout) && !checkedIn.includes(u.use.checkout)).map((u) => u.use.checkout),
      });
    });
    return this.get(request.sessionId);
  }

  /** Takes up an interrupted session where it was (`break-glass.resumed`); a participant, present. */
  resume(request: BreakGlassRequest<'break-glass:resume'>): BreakGlassSession {
    const actor = this.present(request.by);
    this.requireParticipant(actor, this.requireSession(request.sessionId), 'resume');
    this.store.transaction(() => {
      const row = this.requireSession(request.sessionId);
      if (row.state === 'closed') throw this.conflict(row, `Break-glass session ${row.id} is closed; there is nothing to resume.`);
      if (row.interrupted_at === null)
        throw this.conflict(
          row,
          `Break-glass session ${row.id} was not interrupted; continue it with its next step (${this.nextOf(row, null)}).`,
        );
      this.store.resume(row.id, this.run);
      this.journal(T.resumed, actor, row.account_id, {
        session: row.id,
        reached: row.state,
        interruptedAt: row.interrupted_at,
      });
    });
    return this.get(request.sessionId);
  }

  /** One session as the API shows it. */
  get(sessionId: string): BreakGlassSession {
    return this.view(this.requireSession(sessionId));
  }

  /** Sessions newest first (open ones and closed ones awaiting rotation, unless `open` is false). */
  list(request: BreakGlassRequest<'break-glass:list'>): BreakGlassSession[] {
    return this.store.sessions(request).map((row) => this.view(row));
  }

  /**
   * Prints the account's runbook to a PDF: the procedure, and who holds which half (custodians not
   * revoked, by name and organisation). Nothing secret is read, so nobody needs to be unlocked.
   */
  async runbook(request: BreakGlassRequest<'break-glass:runbook'>): Promise<{
    out: string;
    bytes: number;
    accountId: string;
    alias: string;
    holders: { password: RunbookHolder[]; mfa: RunbookHolder[] };
  }> {
    const account = this.custody.accounts.get(request.accountId);
    const holdersOf = (item: Half): RunbookHolder[] =>
      account.assignments.flatMap((a) => {
        const custodian = a.item === item ? this.vault.custodians.get(a.custodianId) : null;
        return custodian === null || custodian.revoked
          ? []
          : [{ custodianId: custodian.id, name: custodian.name, organisation: custodian.organisation }];
      });
    const holders = { password: holdersOf('password'), mfa: holdersOf('mfa') };
    const sheet = {
      accountId: account.accountId,
      alias: account.alias,
      organisation: account.organisation,
      holders,
      printedAt: this.now(),
    };
    const bytes = await writeRunbookPdf(sheet, request.out);
    return { out: request.out, bytes, accountId: account.accountId, alias: account.alias, holders };
  }

  /**
   * One half's step: the acting custodian, present and the person the step needs, opens a checkout
   * flagged break-glass; the session records the step and journals it inside the checkout's own
   * transaction. Custody asks the four-eyes policy as for any checkout.
   */
  private useHalf(by: string, sessionId: string, item: Half): string {
    const actor = this.present(by);
    const first = this.requireSession(sessionId);
    this.checkStep(actor, first, item);
    const request = {
      by: actor.id,
      accountId: first.account_id,
      item,
      reason: `break-glass ${first.reference}: ${first.reason}`.slice(0, 500),
      ticket: first.reference,
      leaseSeconds: first.lease_minutes * 60,
    };
    const view = this.custody.checkouts.open(request, {
      session: sessionId,
      within: (checkout, generation) => {
        // Again inside the transaction: another step may have moved the session meanwhile.
        const row = this.requireSession(sessionId);
        this.checkStep(actor, row, item);
        const use: HalfUse = {
          checkout: checkout.checkoutId,
          custodian: actor.id,
          generation,
          usedAt: checkout.openedAt,
          leaseUntil: checkout.leaseUntil,
        };
        if (!this.store.useHalf(sessionId, item, use, this.run))
          throw this.conflict(row, `Break-glass session ${sessionId} moved on meanwhile; look at it again.`);
        this.journal(item === 'password' ? T.passwordUsed : T.mfaUsed, actor, row.account_id, {
          session: sessionId,
          checkout: checkout.checkoutId,
          item,
          generation,
        });
      },
    });
    return view.checkoutId;
  }

  /**
   * Whether `actor` may take this half's step now: the session open and not interrupted, at this
   * step, and the actor not the person who used (or holds) the other half. Those two refusals are
   * journaled: they are one person trying to obtain both halves.
   */
  private checkStep(actor: UnlockedCustodian, row: SessionRow, item: Half): void {
    if (row.state === 'closed')
      throw this.conflict(row, `Break-glass session ${row.id} is closed (${row.outcome ?? 'closed'}); open a new one.`);
    if (row.interrupted_at !== null)
      throw this.conflict(
        row,
        `Break-glass session ${row.id} was interrupted (the app stopped during it); resume it or close it before going on.`,
      );
    const expected = item === 'password' ? 'opened' : 'password-used';
    if (row.state !== expected) {
      const why =
        item === 'mfa'
          ? `the password half comes first and has not been used yet`
          : `the password half was already used in it (checkout ${row.password_checkout ?? ''}); its custodian can reveal it again on that checkout`;
      throw this.conflict(row, `Break-glass session ${row.id} is not at the ${HALF_NAMES[item]} step: ${why}.`);
    }
    const account = this.custody.accounts.get(row.account_id);
    if (item === 'mfa' && row.password_custodian === actor.id) {
      this.refuse(
        actor,
        row.id,
        row.account_id,
        'use-mfa',
        'POLICY_REFUSED',
        `${actor.name} used the password half in this session, so cannot also use the MFA half: the MFA custodian, a different person, must enter their own passphrase for this step.`,
      );
    }
    const holds = (half: Half) => assigned(account, half, actor.id);
    if (!holds(item) && holds(item === 'password' ? 'mfa' : 'password')) {
      const other = item === 'password' ? 'MFA' : 'password';
      this.refuse(
        actor,
        row.id,
        row.account_id,
        `use-${item}`,
        'POLICY_REFUSED',
        `${actor.name} holds the ${other} half of account ${row.account_id}, not the ${HALF_NAMES[item]}: the ${item === 'password' ? 'password' : 'MFA'} custodian, a different person, must enter their own passphrase for this step.`,
      );
    }
  }

  /** Whoever may close or resume: the opener, whoever used a half, a custodian of either half, or an admin. */
  private requireParticipant(actor: UnlockedCustodian, row: SessionRow, step: string): void {
    if (actor.role === 'admin' || actor.id === row.opened_by || actor.id === row.password_custodian || actor.id === row.mfa_custodian)
      return;
    const account = this.custody.accounts.get(row.account_id);
    if (assigned(account, 'password', actor.id) || assigned(account, 'mfa', actor.id)) return;
    this.refuse(
      actor,
      row.id,
      row.account_id,
      step,
      'NOT_PERMITTED',
      `${actor.name} takes no part in break-glass session ${row.id} (neither half of account ${row.account_id}, not an admin), so cannot ${step} it.`,
    );
  }

  /** Journals a refusal (`break-glass.refused`) in a transaction of its own, then throws it. */
  private refuse(
    actor: UnlockedCustodian,
    sessionId: string | null,
    accountId: string,
    step: string,
    code: ErrorCode,
    message: string,
  ): never {
    // A refusal inside a caller's transaction would be rolled back with it: leave it to the outermost step.
    this.store.transaction(() => this.journal(T.refused, actor, accountId, { session: sessionId, step, custodian: actor.id, message }));
    throw new HalfkeyError(code, message, { accountId, step, ...(sessionId === null ? {} : { sessionId }) });
  }

  private conflict(row: SessionRow, message: string): HalfkeyError {
    return new HalfkeyError('CONFLICT', message, { sessionId: row.id, state: row.state });
  }

  /** Marks held sessions of a run that never closed as interrupted, each journaled by the device (nobody acted). */
  private markInterrupted(): void {
    const stranded = this.store.stranded();
    if (stranded.length === 0) return;
    this.store.transaction(() => {
      const at = this.now();
      for (const row of this.store.stranded()) {
        this.store.markInterrupted(row.id, at);
        this.journal(T.interrupted, null, row.account_id, { session: row.id, reached: row.state });
      }
    });
  }

  private view(row: SessionRow): BreakGlassSession {
    const account = this.custody.accounts.get(row.account_id);
    const open = row.state === 'closed' && row.rotated_at !== null ? new Set<string>() : this.openCheckouts(row.account_id);
    const usedView = (item: Half) => {
      const use = halfUseOf(row, item);
      if (use === null) return null;
      return {
        custodianId: use.custodian,
        custodianName: this.nameOf(use.custodian),
        checkoutId: use.checkout,
        usedAt: use.usedAt,
        generation: use.generation,
        checkoutOpen: open.has(use.checkout),
        leaseUntil: use.leaseUntil,
      };
    };
    const rotation = row.state === 'closed' ? this.rotationOf(row, account) : null;
    return {
      sessionId: row.id,
      accountId: row.account_id,
      alias: account.alias,
      reference: row.reference,
      reason: row.reason,
      severity: row.severity,
      leaseMinutes: row.lease_minutes,
      state: row.state,
      interruptedAt: row.interrupted_at,
      openedAt: row.opened_at,
      openedBy: row.opened_by,
      openedByName: this.nameOf(row.opened_by),
      password: usedView('password'),
      mfa: usedView('mfa'),
      closedAt: row.closed_at,
      closedBy: row.closed_by,
      outcome: row.outcome,
      note: row.note,
      rotation,
      next: this.nextOf(row, rotation),
    };
  }

  /**
   * Each used half's rotation, from custody's state: done once its generation is past the one the
   * session used, pending while a rotation waits for confirmation, due otherwise. The first time
   * every used half is done, the session notes it (`break-glass.rotated`, by the device).
   */
  private rotationOf(row: SessionRow, account: AccountSummary): NonNullable<BreakGlassSession['rotation']> {
    const stateOf = (item: Half) => {
      const use = halfUseOf(row, item);
      const half = account[item];
      if (use === null) return 'not-needed' as const;
      if (half !== null && half.generation > use.generation) return 'done' as const;
      return half?.pendingGeneration != null ? ('pending' as const) : ('due' as const);
    };
    const password = stateOf('password');
    const mfa = stateOf('mfa');
    const done = password !== 'due' && password !== 'pending' && mfa !== 'due' && mfa !== 'pending';
    let doneAt = row.rotated_at;
    if (done && doneAt === null) {
      doneAt = this.now();
      const at = doneAt;
      this.store.transaction(() => {
        this.store.rotated(row.id, at);
        this.journal(T.rotated, null, row.account_id, {
          session: row.id,
          password: account.password?.generation ?? null,
          mfa: account.mfa?.generation ?? null,
        });
      });
    }
    return { password, mfa, done, doneAt };
  }

  private nextOf(row: SessionRow, rotation: BreakGlassSession['rotation']): BreakGlassSession['next'] {
    if (row.state === 'closed') return rotation?.done === false ? 'rotate' : 'done';
    if (row.interrupted_at !== null) return 'resume';
    return row.state === 'opened' ? 'use-password' : row.state === 'password-used' ? 'use-mfa' : 'close';
  }

  /** Ids of the account's open checkouts (custody sweeps expired leases first). */
  private openCheckouts(accountId: string): Set<string> {
    return new Set(this.custody.checkouts.list({ accountId, open: true, limit: 1000 }).map((c) => c.checkoutId));
  }

  private requireSession(id: string): SessionRow {
    const row = this.store.session(id);
    if (row === null) throw new HalfkeyError('NOT_FOUND', `There is no break-glass session ${id} in this vault.`, { sessionId: id });
    return row;
  }

  private present(id: string): UnlockedCustodian {
    return notRevoked(this.vault.custodians.present(id));
  }

  private acting(id: string): UnlockedCustodian {
    return notRevoked(this.vault.custodians.unlocked(id));
  }

  private nameOf(id: string): string {
    return this.vault.custodians.get(id)?.name ?? id;
  }

  private journal(type: string, actor: UnlockedCustodian | null, account: string, data: JsonObject): void {
    this.vault.journal.append({ type, actor: actor === null ? null : { id: actor.id, signer: actor.signer }, account, data });
  }

  private newId(): string {
    return this.sodium.to_hex(this.sodium.randombytes_buf(16));
  }
}

function assigned(account: AccountSummary, item: Half, custodianId: string): boolean {
  return account.assignments.some((a) => a.item === item && a.custodianId === custodianId);
}

function notRevoked(custodian: UnlockedCustodian): UnlockedCustodian {
  if (custodian.revoked)
    throw new HalfkeyError('NOT_PERMITTED', `Custodian ${custodian.id} has been revoked and can no longer act in this vault.`);
  return custodian;
}

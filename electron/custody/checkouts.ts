import type { ResponseOf } from '../../shared/api/contract';
import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { deserializeTotpParams, enrolmentCodes, totpCode, type TotpParams } from '../../shared/otp/totp';
import type { UnlockedCustodian } from '../vault/custodians';
import type { ClipboardGuard } from './clipboard';
import type { CustodyContext, CustodyRequest } from './context';
import type { AccountRow, CheckoutRow, HalfRow, SecretHalf } from './custody-store';
import { Refusal } from './refusal';
import { openHalf } from './sealing';
import { duration } from './vault-policy';

/** An open checkout as the API returns it. */
export interface CheckoutView {
  readonly checkoutId: string;
  readonly accountId: string;
  readonly item: SecretHalf;
  readonly custodianId: string;
  readonly openedAt: number;
  readonly leaseUntil: number;
}

/** A checkout as listed for the UI (no secret). */
export interface CheckoutListing extends CheckoutView {
  readonly reason: string;
  readonly ticket: string | null;
  readonly hardwareToken: boolean;
  readonly closedAt: number | null;
  readonly closeKind: 'checked-in' | 'expired' | null;
}

type OpenRequest = CustodyRequest<'custody:checkout'>;

/**
 * A checkout a break-glass session opens (electron/break-glass/): `checkout.opened` says
 * `breakGlass: true` and names the session, and `within` runs inside the checkout's transaction,
 * after it is written, so the session's own step commits with the checkout or not at all.
 */
export interface BreakGlassCheckout {
  readonly session: string;
  readonly within: (view: CheckoutView, generation: number) => void;
}

/** The live custody state as the API returns it. */
export type CustodyState = ResponseOf<'custody:state'>;

/** A use of a checkout: the checkout and the half it is of, at the generation in use. */
interface Use {
  readonly row: CheckoutRow;
  readonly half: HalfRow;
}

/**
 * Checkouts of the halves: each opened for one custodian with a reason and a lease, under the
 * four-eyes rules and the account's own conditions (rotation due, one checkout at a time), used
 * (reveal, copy, codes) while open, and closed by check-in or by the lease running out. Every
 * refusal is journaled; secrets go only to the custodian who holds the checkout, never to a log.
 */
export class Checkouts {
  constructor(
    private readonly ctx: CustodyContext,
    private readonly clipboard: ClipboardGuard,
  ) {}

  /** Opens a checkout of the password or a TOTP half for the acting custodian; flagged when a break-glass session opens it. */
  open(request: OpenRequest, breakGlass?: BreakGlassCheckout): CheckoutView {
    const { ctx } = this;
    const { accountId, item } = request;
    const actor = ctx.actingCustodian(request.by);
    this.sweepLeases();
    return ctx.refusable(actor, () => {
      const account = ctx.requireAccount(accountId);
      const half = this.requireHalf(accountId, item);
      if (half.kind === 'hardware-token') {
        throw new HalfkeyError('CONFLICT', `The MFA half of account ${accountId} is a hardware token; check it out with token-checkout.`, {
          accountId,
        });
      }
      this.checkOpen(actor, account, half, 'checkout');
      if (ctx.store.sealedCopy(accountId, item, actor.id, half.generation) === null) {
        throw new HalfkeyError(
          'CONFLICT',
          `The ${item} half of account ${accountId} has not been sealed to custodian ${actor.id} yet; an admin must propose a re-seal (custody:reseal) for a custodian who holds it to approve.`,
          { accountId, item },
        );
      }
      const view = this.record(actor, request, half, breakGlass?.session);
      breakGlass?.within(view, half.generation);
      return view;
    });
  }

  /** Checks out the hardware token of an account's MFA half; a token is a physical object, so one checkout at a time. */
  openToken(request: CustodyRequest<'custody:token-checkout'>): CheckoutView & { serial: string; location: string } {
    const { ctx } = this;
    const { accountId } = request;
    // Holding the token is holding the MFA half: like opening a sealed half, it needs presence.
    const actor = ctx.presentCustodian(request.by);
    this.sweepLeases();
    return ctx.refusable(actor, () => {
      const account = ctx.requireAccount(accountId);
      const half = this.requireHalf(accountId, 'mfa');
      if (half.kind !== 'hardware-token') {
        throw new HalfkeyError('CONFLICT', `The MFA half of account ${accountId} is not a hardware token; use checkout.`, { accountId });
      }
      this.checkOpen(actor, account, half, 'token-checkout');
      const view = this.record(actor, { ...request, item: 'mfa' }, half);
      // Holding the token is holding the MFA half: it counts as seen for rule 2.
      ctx.store.recordSeen(accountId, 'mfa', actor.id, half.generation, ctx.now(), 'token');
      return { ...view, serial: half.token_serial ?? '', location: half.token_location ?? '' };
    });
  }

  /** Checks a checkout in; if the account requires rotation after a password checkout, the half becomes "rotation due". */
  checkin(request: CustodyRequest<'custody:checkin'>): { checkoutId: string; rotationDue: boolean } {
    return this.closeByHolder(request.by, request.checkoutId, undefined);
  }

  /** Returns a hardware MFA token and records where it now is. */
  checkinToken(request: CustodyRequest<'custody:token-checkin'>): { checkoutId: string; location: string } {
    this.closeByHolder(request.by, request.checkoutId, request.location);
    return { checkoutId: request.checkoutId, location: request.location };
  }

  /** What is out right now, per account (after the lease sweep): which halves, with whom, why, until when, and whether both are. */
  state(): CustodyState {
    this.sweepLeases();
    const byAccount = new Map<string, CustodyState['accounts'][number]>();
    for (const row of this.ctx.store.openCheckoutsByAccount()) {
      const account = byAccount.get(row.account_id) ?? { accountId: row.account_id, alias: row.alias, out: [], bothOut: false };
      const out = [
        ...account.out,
        {
          item: row.item,
          checkoutId: row.id,
          custodianId: row.custodian_id,
          custodianName: this.ctx.vault.custodians.get(row.custodian_id)?.name ?? row.custodian_id,
          reason: row.reason,
          ticket: row.ticket,
          openedAt: row.opened_at,
          leaseUntil: row.lease_until,
          hardwareToken: row.hardware_token === 1,
        },
      ];
      byAccount.set(row.account_id, {
        ...account,
        out,
        bothOut: out.some((o) => o.item === 'password') && out.some((o) => o.item === 'mfa'),
      });
    }
    return { accounts: [...byAccount.values()] };
  }

  /** Checkouts, newest first, filtered by account and/or custodian; open ones only unless `open` is false. */
  list(filter: CustodyRequest<'custody:checkout-list'>): CheckoutListing[] {
    this.sweepLeases();
    return this.ctx.store.checkouts(filter).map((r) => ({
      checkoutId: r.id,
      accountId: r.account_id,
      item: r.item,
      custodianId: r.custodian_id,
      openedAt: r.opened_at,
      leaseUntil: r.lease_until,
      reason: r.reason,
      ticket: r.ticket,
      hardwareToken: r.hardware_token === 1,
      closedAt: r.closed_at,
      closeKind: r.close_kind,
    }));
  }

  /** Closes every checkout whose lease has run out, journaling `lease.expired` for each (by the device); returns how many. */
  sweepLeases(): number {
    const { ctx } = this;
    if (ctx.store.expiredLeases(ctx.now()).length === 0) return 0;
    return ctx.store.transaction(() => {
      // Read again inside the transaction: another process may have swept them meanwhile.
      const rows = ctx.store.expiredLeases(ctx.now());
      for (const row of rows) {
        const rotationDue = this.close(row, 'expired');
        ctx.journal('lease.expired', null, row.account_id, {
          checkout: row.id,
          item: row.item,
          custodian: row.custodian_id,
          leaseUntil: row.lease_until,
          rotationDue,
        });
      }
      return rows.length;
    }, 'immediate');
  }

  /** Shows the checked-out password for `seconds`; the secret goes to the caller, the journal gets `secret.revealed`. */
  async reveal(request: CustodyRequest<'custody:reveal'>): Promise<{ password: string; expiresAt: number }> {
    const expiresAt = this.ctx.now() + request.seconds * 1000;
    const password = await this.use(
      request,
      'password',
      'reveal',
      (secret) => this.ctx.sodium.to_string(secret),
      () => ({
        type: 'secret.revealed',
        data: { seconds: request.seconds, expiresAt },
      }),
    );
    return { password, expiresAt };
  }

  /** Copies the checked-out password to the clipboard from the main process, cleared after `seconds` if still there. */
  async copy(request: CustodyRequest<'custody:copy'>): Promise<{ clearsAt: number }> {
    this.clipboard.requireAvailable();
    const clearsAt = this.ctx.now() + request.seconds * 1000;
    const password = await this.use(
      request,
      'password',
      'copy',
      (secret) => this.ctx.sodium.to_string(secret),
      () => ({
        type: 'secret.copied',
        data: { seconds: request.seconds, clearsAt },
      }),
    );
    return { clearsAt: await this.clipboard.copy(password, request.seconds, this.ctx.now()) };
  }

  /** The current TOTP code of the checked-out MFA half and how long it stays valid; never the seed. */
  totpCode(
    request: CustodyRequest<'custody:totp-code'>,
  ): Promise<{ code: string; remainingMs: number; counter: number; period: number; digits: number }> {
    return this.useSeed(request, 'totp-code', async (params, now) => ({
      ...(await totpCode(params, now)),
      period: params.period,
      digits: params.digits,
    }));
  }

  /** Two consecutive codes, as AWS asks for when registering a virtual MFA device. */
  totpEnrolmentCodes(request: CustodyRequest<'custody:totp-enrolment-codes'>): Promise<{ first: string; second: string; counter: number }> {
    return this.useSeed(request, 'totp-enrolment-codes', enrolmentCodes);
  }

  /** Computes codes from the checked-out TOTP seed, journaled as `totp.code-shown` with their counter; the seed is wiped after. */
  private useSeed<T extends { counter: number }>(
    request: { readonly by: string; readonly checkoutId: string },
    action: 'totp-code' | 'totp-enrolment-codes',
    codes: (params: TotpParams, now: number) => Promise<T>,
  ): Promise<T> {
    const { sodium, now } = this.ctx;
    return this.use(
      request,
      'mfa',
      action,
      async (secret) => {
        const params = deserializeTotpParams(secret);
        try {
          return await codes(params, now());
        } finally {
          sodium.memzero(params.secret);
        }
      },
      (shown) => ({ type: 'totp.code-shown', data: { counter: shown.counter, enrolment: action === 'totp-enrolment-codes' } }),
    );
  }

  /**
   * Obtains a half under an open checkout: checks, opens the custodian's sealed copy, computes what
   * the person sees, then (checking again, in one transaction) records the sighting and journals it.
   * The plaintext is wiped as soon as `compute` is done with it.
   */
  private async use<T>(
    request: { readonly by: string; readonly checkoutId: string },
    item: SecretHalf,
    action: string,
    compute: (secret: Uint8Array) => Promise<T> | T,
    entry: (result: T) => { readonly type: string; readonly data: JsonObject },
  ): Promise<T> {
    const { ctx } = this;
    const { checkoutId } = request;
    // Opening a half needs the actor present (passphrase within the presence window), not only unlocked.
    const actor = ctx.presentCustodian(request.by);
    this.sweepLeases();
    const first = ctx.refusable(actor, () => this.usable(actor, checkoutId, item, action), 'deferred');
    const secret = openHalf(ctx, first.row.account_id, item, actor, first.half.generation);
    let result: T;
    try {
      result = await compute(secret);
    } finally {
      ctx.sodium.memzero(secret);
    }
    ctx.refusable(actor, () => {
      const { row, half } = this.usable(actor, checkoutId, item, action);
      if (half.generation !== first.half.generation) {
        throw new HalfkeyError('CONFLICT', `The ${item} half of account ${row.account_id} was rotated meanwhile; try again.`, {
          accountId: row.account_id,
        });
      }
      ctx.store.recordSeen(row.account_id, item, actor.id, half.generation, ctx.now(), action);
      const { type, data } = entry(result);
      ctx.journal(type, actor, row.account_id, { checkout: checkoutId, item, generation: half.generation, ...data });
    });
    return result;
  }

  /** The checks of every use: the actor's own checkout, open and within its lease, of this half, and the policy asked again. */
  private usable(actor: UnlockedCustodian, checkoutId: string, item: SecretHalf, action: string): Use {
    const row = this.requireHolder(actor, checkoutId, action);
    if (row.closed_at !== null) {
      throw new HalfkeyError('CONFLICT', `Checkout ${row.id} is closed (${row.close_kind ?? 'closed'}); open a new checkout.`, {
        checkoutId: row.id,
      });
    }
    if (row.lease_until <= this.ctx.now())
      throw new HalfkeyError('CONFLICT', `The lease of checkout ${row.id} has expired; open a new checkout.`, { checkoutId: row.id });
    if (row.item !== item || row.hardware_token === 1) {
      throw new HalfkeyError(
        'CONFLICT',
        `Checkout ${checkoutId} is of the ${row.hardware_token === 1 ? 'hardware token' : `${row.item} half`}; ${action} needs a checkout of the ${item} half.`,
        {
          checkoutId,
        },
      );
    }
    const half = this.ctx.store.half(row.account_id, item);
    if (half === null)
      throw new HalfkeyError('NOT_FOUND', `The ${item} half of account ${row.account_id} is no longer set.`, { accountId: row.account_id });
    // The policy is asked again at each use: the custodian's sightings may have changed since checkout.
    this.ctx.mayObtain(actor, row.account_id, item, action);
    return { row, half };
  }

  /** The checkout, which must belong to the acting custodian. */
  private requireHolder(actor: UnlockedCustodian, checkoutId: string, action: string): CheckoutRow {
    const row = this.ctx.store.checkout(checkoutId);
    if (row === null) throw new HalfkeyError('NOT_FOUND', `There is no checkout ${checkoutId}.`, { checkoutId });
    if (row.custodian_id !== actor.id) {
      throw new Refusal('NOT_PERMITTED', {
        action,
        accountId: row.account_id,
        item: row.item,
        custodianId: actor.id,
        rule: 'checkout-holder',
        ruleName: 'checkout-holder',
        message: `Checkout ${checkoutId} belongs to custodian ${row.custodian_id}; only they can use or check it in.`,
      });
    }
    return row;
  }

  private closeByHolder(by: string, checkoutId: string, location: string | undefined): { checkoutId: string; rotationDue: boolean } {
    const { ctx } = this;
    const actor = ctx.actingCustodian(by);
    return ctx.refusable(actor, () => {
      const row = this.requireHolder(actor, checkoutId, 'checkin');
      if (row.closed_at !== null)
        throw new HalfkeyError('CONFLICT', `Checkout ${checkoutId} is already closed (${row.close_kind ?? 'closed'}).`, { checkoutId });
      if (location !== undefined) {
        if (row.hardware_token !== 1)
          throw new HalfkeyError('CONFLICT', `Checkout ${checkoutId} is not of a hardware token; use checkin.`, { checkoutId });
        ctx.store.moveToken(row.account_id, location);
      }
      const rotationDue = this.close(row, 'checked-in');
      ctx.journal('checkout.closed', actor, row.account_id, {
        checkout: checkoutId,
        item: row.item,
        rotationDue,
        ...(location !== undefined ? { tokenLocation: location } : {}),
      });
      return { checkoutId, rotationDue };
    });
  }

  private requireHalf(accountId: string, item: SecretHalf): HalfRow {
    const half = this.ctx.store.half(accountId, item);
    if (half === null)
      throw new HalfkeyError('NOT_FOUND', `The ${item} half of account ${accountId} has not been set yet.`, { accountId, item });
    return half;
  }

  /**
   * The checks every checkout shares: the four-eyes policy, rotation due, and (when the account
   * asks for it, or for a hardware token) one open checkout per half.
   */
  private checkOpen(actor: UnlockedCustodian, account: AccountRow, half: HalfRow, action: string): void {
    const { id: accountId } = account;
    const item = half.item;
    const refuse = (rule: string, message: string) =>
      new Refusal('CONFLICT', { action, accountId, item, custodianId: actor.id, rule, ruleName: rule, message });
    this.ctx.mayObtain(actor, accountId, item, action);
    // A half due for rotation opens again only once a rotation is pending: setting the new secret at
    // AWS needs the current one, and the pending generation is retired or kept by the confirmation.
    if (half.rotation_due === 1 && this.ctx.store.pendingRotation(accountId, item) === null) {
      throw refuse(
        'rotation-due',
        `The ${item} half of account ${accountId} is due for rotation after its last checkout; a custodian must rotate it (a pending rotation) before it can be checked out again to set the new one at AWS.`,
      );
    }
    const open = account.exclusive_checkout === 1 || half.kind === 'hardware-token' ? this.ctx.store.openCheckoutOf(accountId, item) : null;
    if (open) {
      throw refuse(
        'exclusive-checkout',
        `The ${item} half of account ${accountId} is already checked out by custodian ${open.custodian_id}, and this account allows one checkout at a time; wait for check-in or lease expiry.`,
      );
    }
  }

  /** Writes the checkout and its `checkout.opened` entry. */
  private record(actor: UnlockedCustodian, request: Omit<OpenRequest, 'by'>, half: HalfRow, breakGlassSession?: string): CheckoutView {
    const { ctx } = this;
    const { accountId, item, reason } = request;
    // The vault policy's longest lease (policy.changed); a longer one is a journaled refusal.
    const maxLease = ctx.organisations.policy()?.max_lease_seconds ?? request.leaseSeconds;
    if (request.leaseSeconds > maxLease) {
      throw new Refusal('POLICY_REFUSED', {
        action: half.kind === 'hardware-token' ? 'token-checkout' : 'checkout',
        accountId,
        item,
        custodianId: actor.id,
        rule: 'lease-limit',
        ruleName: 'lease limit',
        message: `The vault policy limits a lease to ${duration(maxLease)}; ask for at most that (an admin can propose a longer limit, which a second custodian approves).`,
      });
    }
    const id = ctx.newId();
    const openedAt = ctx.now();
    const leaseUntil = openedAt + request.leaseSeconds * 1000;
    const token = half.kind === 'hardware-token';
    const ticket = request.ticket ?? null;
    ctx.store.openCheckout({ id, accountId, item, custodianId: actor.id, hardwareToken: token, reason, ticket, openedAt, leaseUntil });
    ctx.journal('checkout.opened', actor, accountId, {
      checkout: id,
      item,
      reason,
      ticket,
      leaseUntil,
      ...(token ? { tokenSerial: half.token_serial ?? '' } : {}),
      ...(breakGlassSession === undefined ? {} : { breakGlass: true, breakGlassSession }),
    });
    // Both halves out at once is the moment two people together could sign in as root: the vault
    // notes it (device-signed, like a lease expiry) so a reviewer finds it without reconstructing it.
    const other = ctx.store.openCheckoutOf(accountId, item === 'password' ? 'mfa' : 'password');
    if (other !== null) {
      const opened = { checkout: id, custodian: actor.id };
      const out = { checkout: other.id, custodian: other.custodian_id };
      ctx.journal(
        'custody.both-halves-out',
        null,
        accountId,
        item === 'password' ? { password: opened, mfa: out } : { password: out, mfa: opened },
      );
    }
    return { checkoutId: id, accountId, item, custodianId: actor.id, openedAt, leaseUntil };
  }

  /** Closes a checkout; rotation after checkout applies to the password: once it has left the vault, it is due for a new one. */
  private close(row: CheckoutRow, kind: 'checked-in' | 'expired'): boolean {
    const { ctx } = this;
    ctx.store.closeCheckout(row.id, ctx.now(), kind);
    const rotationDue = row.item === 'password' && ctx.requireAccount(row.account_id).rotate_after_checkout === 1;
    if (rotationDue) ctx.store.passwordRotationDue(row.account_id);
    return rotationDue;
  }
}

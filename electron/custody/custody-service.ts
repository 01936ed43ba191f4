import { fileURLToPath } from 'node:url';
import { custodyChannels, type AccountSummary, type HalfSecret } from '../../shared/api/channels/custody';
import type { CustodyItem } from '../../shared/policy/four-eyes';
import { sodiumReady } from '../../shared/sodium';
import { migrate } from '../base/database';
import { addAccount, getAccount, listAccounts } from './accounts';
import { checkin, checkout, listCheckouts, sweepLeases, tokenCheckout, type CheckoutListing, type CheckoutRequest, type CheckoutView } from './checkouts';
import { ClipboardGuard, noClipboard, type Clipboard } from './clipboard';
import { validated, type CustodyContext, type CustodyVault } from './context';
import { assign, setHalf, unassign, type AssignResult, type HalfChange } from './halves';
import { copy, currentCode, enrolment, reveal } from './obtain';
import { rotate, type RotateRequest } from './rotation';
import type { SecretHalf } from './sealing';
import { approveSeedExport, collectSeedExport, listSeedExports, requestSeedExport } from './seed-export';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

export interface CustodyOptions {
  /** The clipboard for `copy`; the preview and the CLI have none. */
  readonly clipboard?: Clipboard;
  /** The clock; the same one the journal uses. */
  readonly now?: () => number;
}

/**
 * Custody of one open vault: accounts, halves sealed to their custodians, assignments under the
 * four-eyes rules, checkouts with leases, codes without the seed, rotation and seed-export
 * approvals. Every change is journaled in its own transaction; secrets leave only through
 * reveal, copy, rotate (to the rotating custodian) and an approved seed export, never into a log.
 */
export class CustodyService {
  private readonly guard: ClipboardGuard;
  private sweeper: ReturnType<typeof setInterval> | null = null;

  private constructor(
    private readonly ctx: CustodyContext,
    clipboard: Clipboard,
  ) {
    this.guard = new ClipboardGuard(clipboard);
  }

  /** Applies the custody migrations and expires leases that ran out while the app was closed. */
  static async open(vault: CustodyVault, options: CustodyOptions = {}): Promise<CustodyService> {
    const sodium = await sodiumReady();
    migrate(vault.db, 'custody', MIGRATIONS);
    const service = new CustodyService({ vault, db: vault.db, now: options.now ?? Date.now, sodium }, options.clipboard ?? noClipboard);
    service.sweepLeases();
    return service;
  }

  /** Adds an account (admins only). */
  addAccount(by: string, input: unknown): AccountSummary {
    return addAccount(this.ctx, by, input);
  }

  /** Lists or searches accounts. */
  listAccounts(query: { search?: string; limit?: number; offset?: number } = {}): { total: number; accounts: AccountSummary[] } {
    return listAccounts(this.ctx, { search: query.search ?? '', limit: query.limit ?? 200, offset: query.offset ?? 0 });
  }

  /** One account. */
  account(accountId: string): AccountSummary {
    return getAccount(this.ctx, accountId);
  }

  /** Sets a half's secret or hardware token (a new generation). */
  setHalf(by: string, accountId: string, item: SecretHalf, secret: HalfSecret): HalfChange {
    const request = validated(custodyChannels['custody:half-set'].request, { by, accountId, item, secret }, 'half');
    return setHalf(this.ctx, by, request.accountId, request.item, request.secret);
  }

  /** Assigns an item to a custodian (admins only), re-sealing an existing secret with an unlocked holder's key. */
  assign(by: string, request: { accountId: string; item: CustodyItem; custodianId: string; resealWith?: string | undefined }): AssignResult {
    return assign(this.ctx, by, request);
  }

  /** Removes an assignment (admins only) and that custodian's sealed copy. */
  unassign(by: string, request: { accountId: string; item: CustodyItem; custodianId: string }): { accountId: string; item: CustodyItem; custodianId: string } {
    return unassign(this.ctx, by, request);
  }

  /** Checkouts (open ones by default), newest first. */
  listCheckouts(filter: { accountId?: string | undefined; custodianId?: string | undefined; open?: boolean; limit?: number } = {}): CheckoutListing[] {
    return listCheckouts(this.ctx, { accountId: filter.accountId, custodianId: filter.custodianId, open: filter.open ?? true, limit: filter.limit ?? 200 });
  }

  /** Open seed-export requests, for the second custodian to find and approve. */
  listSeedExports(accountId?: string): ReturnType<typeof listSeedExports> {
    return listSeedExports(this.ctx, accountId);
  }

  /** Opens a checkout of a password or TOTP half. */
  checkout(by: string, request: CheckoutRequest): CheckoutView {
    const { by: _by, ...checked } = validated(custodyChannels['custody:checkout'].request, { by, ...request }, 'checkout');
    return checkout(this.ctx, by, checked);
  }

  /** Closes a checkout. */
  checkin(by: string, checkoutId: string): { checkoutId: string; rotationDue: boolean } {
    return checkin(this.ctx, by, checkoutId);
  }

  /** Checks out a hardware MFA token. */
  tokenCheckout(by: string, request: Omit<CheckoutRequest, 'item'>): CheckoutView & { serial: string; location: string } {
    const { by: _by, ...checked } = validated(custodyChannels['custody:token-checkout'].request, { by, ...request }, 'token checkout');
    return tokenCheckout(this.ctx, by, checked);
  }

  /** Returns a hardware MFA token and records where it now is. */
  tokenCheckin(by: string, checkoutId: string, location: string): { checkoutId: string; location: string } {
    const checked = validated(custodyChannels['custody:token-checkin'].request, { by, checkoutId, location }, 'token check-in');
    checkin(this.ctx, by, checked.checkoutId, checked.location);
    return { checkoutId, location: checked.location };
  }

  /** The password of an open checkout, shown for `seconds`. */
  reveal(by: string, checkoutId: string, seconds: number): Promise<{ password: string; expiresAt: number }> {
    return reveal(this.ctx, by, checkoutId, seconds);
  }

  /** Copies the password of an open checkout to the clipboard, cleared after `seconds` if still there. */
  copy(by: string, checkoutId: string, seconds: number): Promise<{ clearsAt: number }> {
    return copy(this.ctx, this.guard, by, checkoutId, seconds);
  }

  /** The current TOTP code of an open MFA checkout. */
  totpCode(by: string, checkoutId: string): Promise<{ code: string; remainingMs: number; period: number; digits: number }> {
    return currentCode(this.ctx, by, checkoutId);
  }

  /** Two consecutive TOTP codes for registering the MFA device. */
  totpEnrolmentCodes(by: string, checkoutId: string): Promise<{ first: string; second: string }> {
    return enrolment(this.ctx, by, checkoutId);
  }

  /** Rotates a half. */
  rotate(by: string, request: RotateRequest): HalfChange & { password: string | null; expiresAt: number | null } {
    const { by: _by, ...checked } = validated(custodyChannels['custody:rotate'].request, { by, ...request }, 'rotation');
    return rotate(this.ctx, by, checked);
  }

  /** Seed export, step 1: request. */
  requestSeedExport(by: string, accountId: string, reason: string): { requestId: string; expiresAt: number } {
    const checked = validated(custodyChannels['custody:seed-export-request'].request, { by, accountId, reason }, 'seed-export request');
    return requestSeedExport(this.ctx, by, checked.accountId, checked.reason);
  }

  /** Seed export, step 2: a second custodian approves. */
  approveSeedExport(by: string, requestId: string): { requestId: string; approvedBy: string } {
    return approveSeedExport(this.ctx, by, requestId);
  }

  /** Seed export, step 3: the requester collects the seed once. */
  collectSeedExport(by: string, requestId: string): { otpauthUri: string; base32: string } {
    return collectSeedExport(this.ctx, by, requestId);
  }

  /** Expires checkouts whose lease ran out (journaling `lease.expired`); returns how many. */
  sweepLeases(): number {
    return sweepLeases(this.ctx);
  }

  /** Runs the lease sweep every `intervalMs` while the app is open. */
  startLeaseSweeper(intervalMs = 15_000): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(() => {
      try {
        this.sweepLeases();
      } catch {
        // A busy or closing database: the next tick tries again.
      }
    }, intervalMs);
    this.sweeper.unref();
  }

  /** Stops the sweeper and takes any copied secret off the clipboard. */
  async close(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.guard.flush();
  }
}

import { fileURLToPath } from 'node:url';
import { sodiumReady } from '../../shared/sodium';
import { migrate } from '../base/database';
import { Accounts } from './accounts';
import { Assignments } from './assignments';
import { Checkouts } from './checkouts';
import { ClipboardGuard, noClipboard, type Clipboard } from './clipboard';
import { CustodyContext, type CustodyVault } from './context';
import { CustodyStore } from './custody-store';
import { CustodianRoles } from './custodian-roles';
import { Halves } from './halves';
import { OrganisationStore } from './organisation-store';
import { Organisations } from './organisations';
import { Rotations } from './rotations';
import { SeedExports } from './seed-export';
import { VaultPolicyService } from './vault-policy';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

export interface CustodyOptions {
  /** The clipboard for `copy`; the preview and the CLI have none. */
  readonly clipboard?: Clipboard;
  /** The clock; the same one the journal uses. */
  readonly now?: () => number;
}

/**
 * Custody of one open vault: accounts, halves sealed to their custodians, assignments under the
 * four-eyes rules and dual control, checkouts with leases, codes without the seed, rotation and
 * seed exports. Every change is journaled in its own transaction; secrets leave only through
 * reveal, copy, rotate (to the rotating custodian) and an approved seed export, never into a log.
 */
export class CustodyService {
  readonly accounts: Accounts;
  /** Setting the halves. */
  readonly halves: Halves;
  /** Two-phase rotation: a pending generation, confirmed by two custodians or abandoned. */
  readonly rotations: Rotations;
  /** Who holds what: assignments, unassignments and re-seals, each a two-person change. */
  readonly assignments: Assignments;
  /** Checkouts and their leases, and what a checkout lets its holder obtain. */
  readonly checkouts: Checkouts;
  readonly seedExports: SeedExports;
  /** Organisations as records, custodians' membership and the accounts' recovery-channel organisations. */
  readonly organisations: Organisations;
  /** Custodians' roles, changed by two people. */
  readonly roles: CustodianRoles;
  /** Rule 3 on or off, the longest lease, the idle lock: changed by two people. */
  readonly policy: VaultPolicyService;
  private readonly guard: ClipboardGuard;
  private sweeper: ReturnType<typeof setInterval> | null = null;

  private constructor(ctx: CustodyContext, clipboard: Clipboard) {
    this.guard = new ClipboardGuard(clipboard);
    this.accounts = new Accounts(ctx);
    this.halves = new Halves(ctx);
    this.rotations = new Rotations(ctx);
    this.assignments = new Assignments(ctx);
    this.checkouts = new Checkouts(ctx, this.guard);
    this.seedExports = new SeedExports(ctx);
    this.organisations = new Organisations(ctx);
    this.roles = new CustodianRoles(ctx);
    this.policy = new VaultPolicyService(ctx);
  }

  /**
   * Applies the custody migrations, writes the vault policy on first open and puts its idle lock in
   * force, adopts organisations typed as free text (docs/custody.md, "Organisations"), registers
   * custody's two-person changes with the vault's proposal service (the latest service opened on a
   * vault applies them), and expires leases that ran out while the app was closed.
   */
  static async open(vault: CustodyVault, options: CustodyOptions = {}): Promise<CustodyService> {
    const sodium = await sodiumReady();
    migrate(vault.db, 'custody', MIGRATIONS);
    const ctx = new CustodyContext(vault, new CustodyStore(vault.db), options.now ?? Date.now, sodium, new OrganisationStore(vault.db));
    const service = new CustodyService(ctx, options.clipboard ?? noClipboard);
    service.policy.open();
    service.organisations.adoptUnlinked();
    service.assignments.register();
    service.organisations.register();
    service.roles.register();
    service.policy.register();
    service.seedExports.register();
    service.rotations.register();
    service.checkouts.sweepLeases();
    return service;
  }

  /** Runs the lease sweep every `intervalMs` while the app is open. */
  startLeaseSweeper(intervalMs = 15_000): void {
    if (this.sweeper !== null) return;
    this.sweeper = setInterval(() => {
      try {
        this.checkouts.sweepLeases();
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

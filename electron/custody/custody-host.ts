import { HalfkeyError } from '../../shared/api/result';
import type { CustodyVault } from './context';
import { CustodyService, type CustodyOptions } from './custody-service';

/**
 * Custody for whichever vault is open in the app: openAppServices attaches the custody service
 * when VaultSession opens or creates a vault and detaches it when the vault locks or closes. Handlers reach
 * custody through `current()`, which names the fix when no vault is open.
 */
export class CustodyHost {
  private service: CustodyService | null = null;

  /** Opens custody on a freshly opened vault (migrations, startup lease sweep) and starts the lease sweeper. */
  async attach(vault: CustodyVault, options: CustodyOptions = {}): Promise<CustodyService> {
    await this.detach();
    const service = await CustodyService.open(vault, options);
    service.startLeaseSweeper();
    this.service = service;
    return service;
  }

  /** Stops the sweeper and clears any copied secret still on the clipboard. */
  async detach(): Promise<void> {
    const service = this.service;
    this.service = null;
    if (service !== null) await service.close();
  }

  /** The open vault's custody service; VAULT_LOCKED when no vault is open. */
  current(): CustodyService {
    if (this.service === null) throw new HalfkeyError('VAULT_LOCKED', 'No vault is open; open or create a vault first.');
    return this.service;
  }
}

import { HalfkeyError } from '../../shared/api/result';
import { BreakGlassService, type BreakGlassCustody, type BreakGlassVault } from './break-glass-service';

/**
 * Break-glass for whichever vault is open in the app, attached after custody when a vault opens
 * (which is when sessions an earlier run left held are marked interrupted) and detached before it
 * closes (which lets go of them cleanly).
 */
export class BreakGlassHost {
  private service: BreakGlassService | null = null;

  async attach(vault: BreakGlassVault, custody: BreakGlassCustody): Promise<BreakGlassService> {
    this.detach();
    this.service = await BreakGlassService.open(vault, custody);
    return this.service;
  }

  detach(): void {
    const service = this.service;
    this.service = null;
    service?.close();
  }

  /** The open vault's break-glass service; VAULT_LOCKED when no vault is open. */
  current(): BreakGlassService {
    if (this.service === null) throw new HalfkeyError('VAULT_LOCKED', 'No vault is open; open the vault first.');
    return this.service;
  }
}

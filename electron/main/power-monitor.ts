import type { LockAllReason } from '../vault/custodians';

/** The part of Electron's powerMonitor this uses (an EventEmitter). */
export interface PowerEvents {
  on(event: 'lock-screen' | 'suspend', listener: () => void): unknown;
}

/**
 * Locks every custodian when the OS screen locks or the machine suspends, so nobody who sits
 * down at the workstation afterwards finds a custodian unlocked (docs/custody.md, "Presence").
 * `lockAll` does nothing when no vault is open.
 */
export function lockOnScreenLockAndSuspend(power: PowerEvents, lockAll: (reason: LockAllReason) => void): void {
  power.on('lock-screen', () => lockAll('screen-locked'));
  power.on('suspend', () => lockAll('suspended'));
}

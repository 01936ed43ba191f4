import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sodiumNow } from '../../shared/sodium';
import { ed25519Signer, type EntrySigner } from '../../shared/journal/entry';
import { openDatabase, type Db } from '../../electron/services/database';
import { JournalStore, type JournalActor } from '../../electron/services/journal/store';

/** A deterministic Ed25519 signer from a one-byte seed (test keys only). */
export function seededSigner(seedByte: number): EntrySigner {
  const sodium = sodiumNow();
  return ed25519Signer(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(seedByte)).privateKey);
}

export const TEST_VAULT = '0123456789abcdef0123456789abcdef';

/** A real journal in a real SQLite file under a temp folder, with a controllable clock. */
export class TestJournal {
  readonly dir: string;
  readonly path: string;
  readonly db: Db;
  readonly store: JournalStore;
  readonly device: EntrySigner;
  clock: number;

  constructor(options: { checkpointEvery?: number; heartbeatMs?: number; deviceSeed?: number; start?: number } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'halfkey-jtest-'));
    this.path = join(this.dir, 'vault.db');
    this.db = openDatabase(this.path);
    this.device = seededSigner(options.deviceSeed ?? 1);
    this.clock = options.start ?? 1_700_000_000_000;
    this.store = JournalStore.open(this.db, {
      deviceSigner: this.device,
      now: () => this.clock,
      checkpointEvery: options.checkpointEvery ?? 8,
      heartbeatMs: options.heartbeatMs ?? 60_000,
    });
    this.store.init(TEST_VAULT, { name: 'test vault' });
  }

  /** Enrols a custodian by writing custodian.enrolled, self-signed (proof of possession). */
  enrol(id: string, seedByte: number, extra: { name?: string; organisation?: string; role?: string } = {}): JournalActor {
    const signer = seededSigner(seedByte);
    const actor = { id, signer };
    this.store.append({
      type: 'custodian.enrolled',
      actor,
      data: { custodian: id, signingKey: signer.publicKey, name: extra.name ?? id, organisation: extra.organisation ?? 'acme', role: extra.role ?? 'password' },
    });
    return actor;
  }

  tick(ms = 1_000): void {
    this.clock += ms;
  }

  entries(): ReturnType<JournalStore['read']> {
    return this.store.read({});
  }

  close(): void {
    if (this.db.open) this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

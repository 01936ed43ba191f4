import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sodiumReady } from '../../shared/sodium';
import { canonicalize, type JsonObject } from '../../shared/journal/canonical';
import { proposalSignatureMessage } from '../../shared/journal/dual-control';
import { ed25519Signer, entryBodyOf, type EntrySigner, type SignedEntry } from '../../shared/journal/entry';
import { appendedLeafProofs, merkleRoot } from '../../shared/journal/merkle';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import { manifestSignatureMessage, type BundleManifest } from '../../shared/journal/bundle';
import { openDatabase } from '../../electron/base/database';
import { JournalStore } from '../../electron/journal/store';
import { exportJournal } from '../../electron/journal/export';

/** Where the committed vectors live. */
export const VECTORS_DIR = fileURLToPath(new URL('../fixtures/journal-vectors/', import.meta.url));

/** Public test-vector seeds (documented in docs/journal-format.md; never used outside tests). */
const SEEDS = { device: 0x01, alice: 0x02, bob: 0x03, carol: 0x04, server: 0x05 } as const;
/** Entries the vector device had synced when the server signed the head its receipts are under. */
const SYNCED = 8;
const VAULT = '00112233445566778899aabbccddeeff';
const START = 1_767_225_600_000; // 2026-01-01T00:00:00Z

export interface Vectors {
  readonly bundle: string;
  readonly expected: unknown;
}

/**
 * Builds the test-vector journal deterministically (fixed seeds, fixed clock; Ed25519 signatures
 * are deterministic) in a real SQLite file and exports it; returns the bundle text and the
 * expected values a second implementation must reproduce.
 */
export async function buildVectors(): Promise<Vectors> {
  const sodium = await sodiumReady();
  const seed = (b: number) => sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(b));
  const device = ed25519Signer(seed(SEEDS.device).privateKey);
  const alice = { id: 'c-alice', signer: ed25519Signer(seed(SEEDS.alice).privateKey) };
  const bob = { id: 'c-bob', signer: ed25519Signer(seed(SEEDS.bob).privateKey) };
  const carol = { id: 'c-carol', signer: ed25519Signer(seed(SEEDS.carol).privateKey) };
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-vectors-'));
  const db = openDatabase(join(dir, 'vault.db'));
  try {
    let clock = START;
    const store = JournalStore.open(db, { deviceSigner: device, now: () => (clock += 1_000), checkpointEvery: 4, heartbeatMs: 60_000 });
    store.init(VAULT, { name: 'test vectors' });
    store.append({ type: 'session.started', data: { client: 'app' } });
    // The founding pair enrol alone (section 6.5); carol's enrolment and bob's revocation are two-person changes.
    for (const [c, role, org] of [
      [alice, 'admin', 'Provider'],
      [bob, 'mfa-custodian', 'Customer'],
    ] as const) {
      store.append({
        type: 'custodian.enrolled',
        actor: c,
        data: { custodian: c.id, name: c.id.slice(2), organisation: org, role, signingKey: c.signer.publicKey, founding: true },
      });
    }
    const approved = (
      type: string,
      change: JsonObject,
      details: JsonObject,
      proposer: typeof alice,
      approver: typeof alice,
      proposal: string,
      cosigners: EntrySigner[] = [],
    ): void => {
      const proposedAt = clock;
      const expiresAt = proposedAt + 86_400_000;
      const sig = sodium.to_hex(
        proposer.signer.sign(
          proposalSignatureMessage({ vault: VAULT, type, proposal, proposer: proposer.id, proposedAt, expiresAt, change }, sodium),
        ),
      );
      store.append({
        type,
        actor: approver,
        cosigners,
        data: {
          ...change,
          ...details,
          approval: { proposal, proposer: proposer.id, approver: approver.id, proposedAt, expiresAt, change, sig },
        },
      });
    };
    approved(
      'custodian.enrolled',
      { custodian: carol.id, name: 'carol', organisation: 'Customer', role: 'password-custodian' },
      { signingKey: carol.signer.publicKey },
      alice,
      bob,
      '11'.repeat(16),
      [carol.signer],
    );
    store.append({
      type: 'checkout.opened',
      actor: carol,
      account: '123456789012',
      data: { item: 'password', reason: 'vector: quarterly root login test', ticket: 'CHG-1' },
    });
    store.append({ type: 'checkout.closed', actor: carol, account: '123456789012', data: { item: 'password' } });
    approved(
      'custodian.revoked',
      { custodian: bob.id, signingKey: bob.signer.publicKey, reason: 'left the team' },
      {},
      alice,
      carol,
      '22'.repeat(16),
    );
    // The recovery key used on a machine whose keychain lost the device key: two custodians present (section 6.5).
    approved(
      'vault.recovered',
      { keychainBackend: 'test keychain (new machine)', previousKeychainBackend: 'test keychain' },
      {},
      alice,
      carol,
      '33'.repeat(16),
    );
    store.append({ type: 'session.ended', data: { reason: 'shutdown' } });
    // Receipts (section 9.4) for the entries synced before the rest were written: a server log
    // holding this device's first SYNCED entries, at log indexes 0.., under one signed tree head.
    const server = seed(SEEDS.server);
    const serverKey = sodium.to_hex(server.publicKey);
    const synced = [...store.read({})].slice(0, SYNCED);
    const { root, proofs } = appendedLeafProofs(
      0,
      [],
      synced.map((e) => sodium.from_hex(e.hash)),
      sodium,
    );
    const unsignedHead = { size: synced.length, root: sodium.to_hex(root), timestamp: START + 1_800_000 };
    const signature = sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(unsignedHead, sodium), server.privateKey));
    const treeHead = { ...unsignedHead, signature };
    synced.forEach((e, logIndex) =>
      store.addReceipt({
        device: e.device,
        seq: e.seq,
        entryHash: e.hash,
        logIndex,
        treeHead,
        inclusionProof: proofs[logIndex]!.map((h) => sodium.to_hex(h)),
        serverKey,
        signature,
      }),
    );
    const out = join(dir, 'bundle.hkj');
    exportJournal(store, { out, signer: device, now: () => START + 3_600_000 });
    const bundle = readFileSync(out, 'utf8');
    const entries = [...store.read({})];
    const manifestRecord = JSON.parse(bundle.trimEnd().split('\n').at(-1)!) as {
      manifest: BundleManifest;
      signature: { key: string; sig: string };
    };
    const expected = {
      seeds: { device: '01'.repeat(32), alice: '02'.repeat(32), bob: '03'.repeat(32), carol: '04'.repeat(32), server: '05'.repeat(32) },
      publicKeys: {
        device: device.publicKey,
        alice: alice.signer.publicKey,
        bob: bob.signer.publicKey,
        carol: carol.signer.publicKey,
        server: serverKey,
      },
      vault: VAULT,
      genesisCanonical: canonicalize(entryBodyOf(entries[0]!)),
      entries: entries.map((e: SignedEntry) => ({ seq: e.seq, type: e.type, hash: e.hash, sigs: e.sigs.map((s) => s.sig) })),
      checkpoints: entries
        .filter((e) => e.type === 'checkpoint')
        .map((e) => ({
          seq: e.seq,
          size: e.data.size,
          root: sodium.to_hex(merkleRoot(entries.slice(0, e.seq).map((x) => sodium.from_hex(x.hash)))),
        })),
      receipts: { treeHead, seqs: synced.map((e) => e.seq) },
      manifest: {
        signedBytesSha256: sodium.to_hex(sodium.crypto_hash_sha256(manifestSignatureMessage(manifestRecord.manifest))),
        signature: manifestRecord.signature.sig,
        head: manifestRecord.manifest.head,
      },
    };
    return { bundle, expected };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `npx tsx test/support/journal-vectors.ts --write` regenerates the committed fixture files. */
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  const v = await buildVectors();
  writeFileSync(join(VECTORS_DIR, 'bundle.hkj'), v.bundle);
  writeFileSync(join(VECTORS_DIR, 'expected.json'), `${JSON.stringify(v.expected, null, 2)}\n`);
  process.stdout.write(`wrote ${VECTORS_DIR}\n`);
}

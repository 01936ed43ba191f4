import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { VECTORS_DIR, buildVectors, type Vectors } from '../support/journal-vectors';

const SPEC = fileURLToPath(new URL('../../docs/journal-format.md', import.meta.url));
const BUNDLE = join(VECTORS_DIR, 'bundle.hkj');
const EXPECTED = join(VECTORS_DIR, 'expected.json');
const PYTHON_VERIFIER = join(VECTORS_DIR, 'verify_vectors.py');
let regenerated: Vectors;

beforeAll(async () => {
  await sodiumReady();
  regenerated = await buildVectors();
});

const python = (...args: string[]) => spawnSync('python3', [PYTHON_VERIFIER, ...args], { encoding: 'utf8' });

describe('journal test vectors', () => {
  it('regenerating from the fixed seeds and clock reproduces the committed files byte for byte', () => {
    expect(regenerated.bundle).toBe(readFileSync(BUNDLE, 'utf8'));
    expect(`${JSON.stringify(regenerated.expected, null, 2)}\n`).toBe(readFileSync(EXPECTED, 'utf8'));
  });

  it('the vectors printed in docs/journal-format.md are the committed ones', () => {
    const spec = readFileSync(SPEC, 'utf8');
    const section = /<!-- journal-vectors:begin -->\n```json\n([\s\S]*?)\n```\n<!-- journal-vectors:end -->/.exec(spec);
    expect(section, 'the spec must carry a journal-vectors section').not.toBeNull();
    expect(JSON.parse(section![1]!)).toEqual(JSON.parse(readFileSync(EXPECTED, 'utf8')));
  });

  it('the TypeScript bundle verifier accepts the vectors', async () => {
    const report = await verifyBundleFile(BUNDLE);
    expect(report.failures).toEqual([]);
    expect(report.entries).toBe((regenerated.expected as { entries: unknown[] }).entries.length);
  });

  it('an independent Python verifier, written from the spec, accepts the vectors and checks every signature', () => {
    // Without the `cryptography` package the Python verifier skips Ed25519 and still says VALID:
    // that would leave the signatures to the code under test, so it fails here instead.
    const crypto = spawnSync('python3', ['-c', 'import cryptography.hazmat.primitives.asymmetric.ed25519'], { encoding: 'utf8' });
    expect(
      crypto.status,
      `python3 cannot import cryptography (install the Debian package python3-cryptography; build/test.sh does): ${crypto.stderr}`,
    ).toBe(0);
    const r = python(BUNDLE, EXPECTED);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^VALID: \d+ entries \(with Ed25519, anchored\)\n$/);
    expect(r.status).toBe(0);
    const full = python('--full', BUNDLE, EXPECTED);
    expect(full.stdout).toMatch(/^VALID: \d+ entries \(with Ed25519, full\)\n$/);
  });

  it('the Python verifier rejects a tampered copy (so its VALID means something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-vec-'));
    try {
      const lines = readFileSync(BUNDLE, 'utf8').split('\n');
      const at = lines.findIndex((l) => l.includes('quarterly root login'));
      const edited = join(dir, 'edited.hkj');
      writeFileSync(edited, lines.map((l, i) => (i === at ? l.replace('quarterly', 'monthly') : l)).join('\n'));
      const r1 = python(edited);
      expect(r1.status).toBe(1);
      expect(r1.stdout).toMatch(/INVALID: seq \d+: HASH_MISMATCH/);
      const resigned = join(dir, 'sig.hkj');
      writeFileSync(
        resigned,
        lines
          .map((l, i) => (i === at ? l.replace(/"sig":"([0-9a-f])/, (_, c: string) => `"sig":"${c === '0' ? '1' : '0'}`) : l))
          .join('\n'),
      );
      const r2 = python('--full', resigned);
      expect(r2.status).toBe(1);
      // The part hash alone would catch the edit; the signature must be caught for itself.
      expect(r2.stdout).toMatch(/INVALID: seq \d+: BAD_SIGNATURE/);
      // Anchored (the default), a checkpoint attests that entry: only the part hash catches the edit.
      const r3 = python(resigned);
      expect(r3.status).toBe(1);
      expect(r3.stdout).not.toMatch(/BAD_SIGNATURE/);
      expect(r3.stdout).toMatch(/INVALID: PART_HASH_MISMATCH: entries/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('both verifiers check the receipts the vectors carry, under the vector server key and only it', async () => {
    const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as { publicKeys: { server: string }; receipts: { seqs: number[] } };
    const serverKey = expected.publicKeys.server;
    const other = 'ab'.repeat(32);
    expect(expected.receipts.seqs.length).toBeGreaterThan(0);
    expect(
      readFileSync(BUNDLE, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"kind":"receipt"')).length,
    ).toBe(expected.receipts.seqs.length);
    const pinned = await verifyBundleFile(BUNDLE, { serverKeys: [serverKey] });
    expect(pinned.failures).toEqual([]);
    const wrongKey = await verifyBundleFile(BUNDLE, { serverKeys: [other] });
    expect(wrongKey.ok).toBe(false);
    expect(wrongKey.failures[0]!.code).toBe('BAD_RECEIPT');
    const r = python('--server-key', serverKey, BUNDLE, EXPECTED);
    expect(r.stdout).toMatch(/^VALID: \d+ entries/);
    const p = python('--server-key', other, BUNDLE);
    expect(p.status).toBe(1);
    expect(p.stdout).toMatch(/INVALID: seq \d+: BAD_RECEIPT/);
    // A receipt whose inclusion proof is bent is refused by both, under its own key.
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-vec-'));
    try {
      const lines = readFileSync(BUNDLE, 'utf8').split('\n');
      const at = lines.findIndex((l) => l.startsWith('{"kind":"receipt"') && l.includes('"inclusionProof":["'));
      const bent = join(dir, 'bent.hkj');
      // The first hash of the path, one hex digit changed: still well formed, no longer a path to the root.
      const flip = (l: string): string =>
        l.replace(/"inclusionProof":\["([0-9a-f])/, (_m, c: string) => `"inclusionProof":["${c === '0' ? '1' : '0'}`);
      writeFileSync(bent, lines.map((l, i) => (i === at ? flip(l) : l)).join('\n'));
      expect((await verifyBundleFile(bent)).failures.map((f) => f.code)).toContain('BAD_RECEIPT');
      const pb = python(bent);
      expect(pb.status).toBe(1);
      expect(pb.stdout).toMatch(/BAD_RECEIPT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

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
});

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { entryBodyOf, type SignedEntry } from '../../shared/journal/entry';
import { MAX_ENTRY_DEPTH, textDepthExceeds, valueDepthExceeds } from '../../shared/journal/limits';
import { readCanonicalEntryLine } from '../../shared/journal/entry-line';
import { canonicalEntryTexts } from '../../shared/journal/entry';
import { entryLine, type BundleReport } from '../../shared/journal/bundle';
import { ChainVerifier } from '../../shared/journal/verifier';
import { nativePrimitives } from '../../server/native-primitives';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { verifyBundleFileParallel } from '../../electron/journal/parallel-verify';
import { runJournal } from '../../electron/cli/journal';
import { VECTORS_DIR } from '../support/journal-vectors';
import { TestJournal, insiderRewrite, journalsClosedAfterEach } from '../support/journal-builder';
import { DEPTH_VECTOR, buildDepthVector, bundleOf, scratchDir } from '../support/journal-bundles';

/**
 * Anchored verification (docs/journal-format.md, section 10.2), verification by ranges on worker
 * threads (10.3) and the nesting limit (2.2), in both verifiers: the TypeScript one (one core and
 * worker threads) and the Python reference verifier, each anchored and --full.
 */

const PYTHON = join(VECTORS_DIR, 'verify_vectors.py');
const scratch = scratchDir();
let fileNo = 0;
const journal = journalsClosedAfterEach();

beforeAll(async () => {
  await sodiumReady();
});
afterAll(() => scratch.remove());

interface Everywhere {
  readonly anchored: BundleReport;
  readonly full: BundleReport;
  readonly python: { readonly anchored: string; readonly full: string; readonly status: number | null };
}

const codes = (r: BundleReport) => r.failures.map((f) => ({ seq: f.seq, code: f.code }));

/** Verifies a bundle in both modes on one core and on 2 worker threads (which must agree exactly), and with Python in both modes. */
async function everywhere(text: string): Promise<Everywhere> {
  const path = join(scratch.dir, `a${fileNo++}.hkj`);
  writeFileSync(path, text);
  const anchored = await verifyBundleFile(path);
  const full = await verifyBundleFile(path, { mode: 'full' });
  expect((await verifyBundleFileParallel(path, { workers: 2 })).failures, 'anchored on worker threads').toEqual(anchored.failures);
  expect((await verifyBundleFileParallel(path, { workers: 2, mode: 'full' })).failures, 'full on worker threads').toEqual(full.failures);
  const pa = spawnSync('python3', [PYTHON, path], { encoding: 'utf8' });
  const pf = spawnSync('python3', [PYTHON, '--full', path], { encoding: 'utf8' });
  expect(pa.stderr).toBe('');
  return { anchored, full, python: { anchored: pa.stdout, full: pf.stdout, status: pa.status } };
}

/**
 * A journal long enough for several ranges (256, 512 and up to 1,024 entries) and many checkpoints (every 16):
 * sessions, two founding custodians, a third enrolled after `enrolAt` entries (by default before
 * the first range; half way through, a key change inside a range, which the ranges sent after it
 * assumed away: they are verified again on the main thread), checkouts signed by custodians.
 */
function longJournal(enrolAt = 100): TestJournal {
  const j = journal({ checkpointEvery: 16 });
  j.store.append({ type: 'session.started', data: {} });
  const alice = j.enrol('alice', 2, { role: 'admin' });
  j.enrol('bob', 3, { role: 'mfa-custodian' });
  for (let n = 0; n < 1_300; n++) {
    j.tick(100);
    if (n === enrolAt) j.enrol('carol', 4);
    if (n % 400 === 399) {
      j.store.append({ type: 'session.ended', data: {} });
      j.tick(3_600_000);
      j.store.append({ type: 'session.started', data: {} });
    } else if (n % 50 === 0) j.store.append({ type: 'checkout.opened', actor: alice, data: { n, reason: 'quarterly check' } });
    else j.store.append({ type: 'heartbeat.note', data: { n } });
  }
  j.store.append({ type: 'session.ended', data: {} });
  j.store.checkpoint();
  return j;
}

/** Flips one hex digit of an entry's signature `index` in its line (the entry itself is unchanged). */
function flipSignature(line: string, e: SignedEntry, index: number): string {
  const sig = e.sigs[index]!.sig;
  return line.replace(sig, `${sig[0] === '0' ? '1' : '0'}${sig.slice(1)}`);
}

describe('anchored and full verification agree', () => {
  it('on the committed vectors, in both languages; anchored attests entries by checkpoints, full by their own signatures', async () => {
    const r = await everywhere(readFileSync(join(VECTORS_DIR, 'bundle.hkj'), 'utf8'));
    expect(r.anchored.failures).toEqual([]);
    expect(r.full.failures).toEqual([]);
    expect([r.anchored.mode, r.full.mode]).toEqual(['anchored', 'full']);
    // The vectors' entries that are neither genesis, key changes nor checkpoints, each covered by a
    // later checkpoint: 1 (by 4), 6 and 7 (by 9), 10, 11 and 12 (by 13).
    expect(r.anchored.chain.anchoredEntries).toBe(6);
    expect(r.full.chain.anchoredEntries).toBe(0);
    expect(r.python.anchored).toMatch(/^VALID: 14 entries \(with Ed25519, anchored\)\n$/);
    expect(r.python.full).toMatch(/^VALID: 14 entries \(with Ed25519, full\)\n$/);
  });

  it('on a long untouched journal, where almost every entry is anchored, also with a key change inside a range', async () => {
    const mid = longJournal(650);
    const m = await everywhere(bundleOf([...mid.entries()], mid.device));
    expect(m.anchored.failures).toEqual([]);
    expect(m.full.failures).toEqual([]);
    const j = longJournal();
    const entries = [...j.entries()];
    const r = await everywhere(bundleOf(entries, j.device));
    expect(r.anchored.failures).toEqual([]);
    expect(r.full.failures).toEqual([]);
    expect(r.anchored.chain.anchoredEntries).toBeGreaterThan(entries.length * 0.9);
    expect(r.anchored.chain.uncleanSessions).toBe(0);
    expect(r.python.anchored).toMatch(/^VALID/);
    expect(r.python.full).toMatch(/^VALID/);
  });

  it('on every tampered case, the same failures in the same order, in both languages', async () => {
    const j = longJournal();
    const entries = [...j.entries()];
    const keys = { device: j.device, custodians: j.custodians };
    const at = (type: string, after: number) => entries.find((e) => e.seq > after && e.type === type)!;
    const plain = at('heartbeat.note', 900);
    const checkout = at('checkout.opened', 900);
    const checkpoint = at('checkpoint', 1_100);
    const cases: [string, string][] = [
      ['a field edited', bundleOf(entries, j.device, { line: (l, e) => (e.seq === plain.seq ? l.replace('"n":', '"n":1') : l) })],
      [
        "a custodian's signature damaged",
        bundleOf(entries, j.device, { line: (l, e) => (e.seq === checkout.seq ? flipSignature(l, e, 1) : l) }),
      ],
      [
        'an entry line deleted',
        bundleOf(
          entries.filter((e) => e.seq !== plain.seq),
          j.device,
        ),
      ],
      [
        'a checkpoint root forged by an insider, with a damaged device signature in its range',
        bundleOf(
          insiderRewrite(entries, keys, (b) =>
            b.seq === checkpoint.seq ? { body: { ...b, data: { ...b.data, root: 'ab'.repeat(32) } } } : undefined,
          ),
          j.device,
          { line: (l, e) => (e.seq === checkpoint.seq - 3 ? flipSignature(l, e, 0) : l) },
        ),
      ],
      [
        'an entry moved back in time by an insider',
        bundleOf(
          insiderRewrite(entries, keys, (b) => (b.seq === plain.seq ? { body: { ...b, time: b.time - 10_000_000 } } : undefined)),
          j.device,
        ),
      ],
      [
        'a device signature damaged after the last checkpoint',
        bundleOf(entries.slice(0, -1), j.device, {
          line: (l, e) => (e.seq === entries.at(-2)!.seq ? flipSignature(l, e, 0) : l),
          manifest: (m) => ({ ...m, complete: false, requested: { from: 0, to: m.head.seq } }),
        }),
      ],
      [
        'a device signature damaged on a key change (custodian.enrolled)',
        bundleOf(entries, j.device, { line: (l, e) => (e.type === 'custodian.enrolled' && e.seq > 100 ? flipSignature(l, e, 0) : l) }),
      ],
    ];
    for (const [name, text] of cases) {
      const r = await everywhere(text);
      expect(r.anchored.failures.length, name).toBeGreaterThan(0);
      expect(r.anchored.failures, name).toEqual(r.full.failures);
      expect(r.python.status, name).toBe(1);
      expect(r.python.anchored, name).toBe(r.python.full);
    }
  }, 600_000);

  it('except a damaged device signature inside a checkpointed range: only --full reports it, and nothing else differs', async () => {
    const j = longJournal();
    const entries = [...j.entries()];
    const target = entries.find((e) => e.seq > 800 && e.type === 'heartbeat.note')!;
    // An insider holding the device key re-signs the manifest, so the parts match.
    const r = await everywhere(bundleOf(entries, j.device, { line: (l, e) => (e.seq === target.seq ? flipSignature(l, e, 0) : l) }));
    expect(codes(r.full)).toEqual([{ seq: target.seq, code: 'BAD_SIGNATURE' }]);
    expect(r.anchored.failures).toEqual([]);
    expect(r.python.full).toBe(`INVALID: seq ${target.seq}: BAD_SIGNATURE 0\n`);
    expect(r.python.anchored).toMatch(/^VALID/);
  });

  it('an entry the checkpoint does not attest (its hash edited, so the root no longer fits) is re-checked in full, with its signatures', async () => {
    const j = longJournal();
    const entries = [...j.entries()];
    const target = entries.find((e) => e.seq > 800 && e.type === 'heartbeat.note')!;
    const cp = entries.find((e) => e.seq > target.seq && e.type === 'checkpoint')!;
    // Another hash in the line: the stored hash no longer matches the body, the next link and the root break.
    const r = await everywhere(
      bundleOf(entries, j.device, {
        line: (l, e) => (e.seq === target.seq ? flipSignature(l.replace(e.hash, 'cd'.repeat(32)), e, 0) : l),
      }),
    );
    expect(codes(r.anchored)).toEqual(codes(r.full));
    expect(codes(r.anchored)).toEqual(
      expect.arrayContaining([
        { seq: target.seq, code: 'HASH_MISMATCH' },
        { seq: target.seq, code: 'BAD_SIGNATURE' },
        { seq: cp.seq, code: 'CHECKPOINT_ROOT_MISMATCH' },
      ]),
    );
  });

  it('the chain verifier alone: anchored holds an entry’s failures until its range closes, then reports them as full mode does', async () => {
    const j = longJournal();
    const entries = [...j.entries()].slice(0, 200);
    const target = entries.find((e) => e.seq > 40 && e.type === 'heartbeat.note')!;
    const broken = entries.map((e) =>
      e.seq === target.seq
        ? { ...e, sigs: [{ key: e.sigs[0]!.key, sig: `${e.sigs[0]!.sig[0] === '0' ? '1' : '0'}${e.sigs[0]!.sig.slice(1)}` }] }
        : e,
    );
    const full = new ChainVerifier({ mode: 'full' });
    const anchored = new ChainVerifier({ mode: 'anchored' });
    for (const e of broken) {
      full.push(e);
      anchored.push(e);
    }
    expect(full.finish().failures.map((f) => [f.seq, f.code])).toEqual([[target.seq, 'BAD_SIGNATURE']]);
    expect(anchored.finish().failures).toEqual([]);
    // The same entry past the last checkpoint: no checkpoint attests it, so anchored checks it too.
    const a2 = new ChainVerifier({ mode: 'anchored' });
    for (const e of broken.filter((x) => x.seq <= target.seq)) a2.push(e);
    expect(a2.finish().failures.map((f) => [f.seq, f.code])).toEqual([[target.seq, 'BAD_SIGNATURE']]);
  });
});

describe('a range whose caller keeps its leaves (the org export’s ranges)', () => {
  it('counts leaves without hashing them, still refuses a checkpoint that covers the wrong number, and leaves the roots to the caller', () => {
    const entries = [...longJournal().entries()].slice(0, 300);
    const run = (keptByCaller: boolean, list: readonly SignedEntry[]) => {
      let hashes = 0;
      const primitives = { ...nativePrimitives, sha256: (data: Uint8Array) => (hashes++, nativePrimitives.sha256(data)) };
      const v = new ChainVerifier({ mode: 'anchored', leafOffset: 0, primitives, ...(keptByCaller ? { leavesKeptByCaller: true } : {}) });
      for (const e of list) v.push(e);
      const failures = v.finish().failures.map((f) => [f.seq, f.code]);
      return { hashes, failures, leaves: v.leafCount(), roots: v.deferredRoots.length };
    };
    const hashed = run(false, entries);
    const counted = run(true, entries);
    expect(hashed.failures).toEqual([]);
    expect(counted.failures).toEqual([]);
    expect(counted.leaves).toBe(entries.length);
    expect(hashed.leaves).toBe(entries.length);
    expect(hashed.roots).toBeGreaterThan(10);
    expect(counted.roots).toBe(0);
    // Each leaf and the nodes above it are hashed only when the verifier keeps the tree.
    expect(hashed.hashes - counted.hashes).toBeGreaterThanOrEqual(entries.length);

    // One entry fewer before a checkpoint: the count is still checked.
    const cp = entries.find((e) => e.type === 'checkpoint' && e.seq > 100)!;
    const gapped = entries.filter((e) => e.seq !== cp.seq - 1);
    expect(run(true, gapped).failures).toEqual(expect.arrayContaining([[cp.seq, 'CHECKPOINT_ROOT_MISMATCH']]));
    expect(() => new ChainVerifier({ leavesKeptByCaller: true })).toThrow(/leafOffset/);
  });
});

describe('the nesting limit', () => {
  it('the committed depth vector regenerates byte for byte, and every verifier refuses its too-deep entry (and only it) as MALFORMED_ENTRY', async () => {
    const text = await buildDepthVector();
    expect(text).toBe(readFileSync(DEPTH_VECTOR, 'utf8'));
    const r = await everywhere(text);
    const lines = text.split('\n');
    const deepLine = lines.findIndex((l) => l.includes('"note.too-deep"')) + 1;
    const atLimit = JSON.parse(lines.find((l) => l.includes('"note.at-limit"'))!) as { entry: SignedEntry };
    expect(valueDepthExceeds(atLimit.entry, MAX_ENTRY_DEPTH)).toBe(false);
    expect(valueDepthExceeds(atLimit.entry, MAX_ENTRY_DEPTH - 1)).toBe(true);
    for (const report of [r.anchored, r.full]) {
      expect(report.failures[0]).toEqual({
        seq: null,
        code: 'MALFORMED_ENTRY',
        reason: `line ${deepLine}: the entry is nested deeper than ${MAX_ENTRY_DEPTH} levels`,
      });
      // What follows is what skipping an entry does (section 10): a gap and checkpoints one leaf short; nothing at the entry at the limit.
      expect(report.failures.map((f) => f.code)).toEqual([
        'MALFORMED_ENTRY',
        'SEQUENCE_GAP',
        'CHECKPOINT_ROOT_MISMATCH',
        'CHECKPOINT_ROOT_MISMATCH',
      ]);
      expect(report.failures.some((f) => f.seq === atLimit.entry.seq)).toBe(false);
    }
    expect(r.anchored.failures).toEqual(r.full.failures);
    expect(r.python.anchored.split('\n')[0]).toBe(
      `INVALID: seq None: MALFORMED_ENTRY: line ${deepLine}: the entry is nested deeper than ${MAX_ENTRY_DEPTH} levels`,
    );
    expect(r.python.anchored.replaceAll('INVALID: ', '').match(/[A-Z_]{6,}/g)).toEqual([
      'MALFORMED_ENTRY',
      'SEQUENCE_GAP',
      'CHECKPOINT_ROOT_MISMATCH',
      'CHECKPOINT_ROOT_MISMATCH',
    ]);
    expect(r.python.full).toBe(r.python.anchored);
  });

  it('a 100,000-deep entry line is refused quickly, without a stack overflow, by both verifiers in both modes', async () => {
    const j = journal({ checkpointEvery: 4 });
    j.store.append({ type: 'session.started', data: {} });
    j.store.append({ type: 'note', data: { n: 1 } });
    j.store.checkpoint();
    const entries = [...j.entries()];
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const text = bundleOf(entries, j.device, { line: (l, e) => (e.type === 'note' ? l.replace('"n":1', `"n":${deep}`) : l) });
    const started = performance.now();
    const r = await everywhere(text);
    expect(performance.now() - started).toBeLessThan(20_000);
    for (const report of [r.anchored, r.full]) {
      expect(report.failures[0]).toMatchObject({
        code: 'MALFORMED_ENTRY',
        reason: expect.stringContaining('nested deeper than 16 levels'),
      });
    }
    expect(r.python.anchored).toMatch(/^INVALID: seq None: MALFORMED_ENTRY: line \d+: the entry is nested deeper than 16 levels\n/);
    expect(r.python.full).toBe(r.python.anchored);
  });

  it('the chain verifier refuses a deep entry object before the schema or the encoder walks it', () => {
    const j = journal({ checkpointEvery: 4 });
    const genesis = [...j.entries()][0]!;
    let data: unknown = 1;
    for (let i = 0; i < 100_000; i++) data = [data];
    const v = new ChainVerifier();
    v.push(genesis);
    const failures = v.push({
      ...entryBodyOf(genesis),
      seq: 1,
      prev: genesis.hash,
      type: 'note',
      data: { data },
      hash: genesis.hash,
      sigs: genesis.sigs,
    });
    expect(failures).toEqual([{ seq: 1, code: 'MALFORMED_ENTRY', reason: 'the entry is nested deeper than 16 levels' }]);
  });

  it('the text scan counts brackets outside strings only, and stops at the limit', () => {
    expect(textDepthExceeds('[[["[[[[[[[[[[[[[[[[[[[[[["]]]', 3)).toBe(false);
    expect(textDepthExceeds('[[[[]]]]', 3)).toBe(true);
    expect(textDepthExceeds('{"a":"\\"[[[[[[["}', 2)).toBe(false);
    expect(valueDepthExceeds({ a: [{ b: [] }] }, 4)).toBe(false);
    expect(valueDepthExceeds({ a: [{ b: [] }] }, 3)).toBe(true);
  });
});

describe('the fast entry-line reader', () => {
  it('gives exactly what JSON.parse and the canonical encoder give, and declines anything not canonical', () => {
    const j = longJournal();
    const lines = [...j.entries()].slice(0, 400).map((e) => entryLine(e).trimEnd());
    for (const line of lines) {
      const read = readCanonicalEntryLine(line);
      const parsed = (JSON.parse(line) as { entry: SignedEntry }).entry;
      expect(read).not.toBeNull();
      expect(read!.entry).toStrictEqual(parsed);
      expect(Object.keys(read!.entry)).toEqual(Object.keys(parsed));
      expect(read!.body).toBe(canonicalEntryTexts(parsed).body);
    }
    const line = lines.find((l) => l.includes('"checkout.opened"'))!;
    for (const odd of [
      line.replace('"n":', '"n": '),
      line.replace(/"seq":(\d+)/, '"seq":$1.0'),
      line.replace(/"seq":(\d+)/, '"seq":0$1'),
      line.replace('"v":1', '"v":2'),
      line.replace('"type":"checkout.opened"', '"type":"Checkout.opened"'),
      line.replace(/"sig":"[0-9a-f]/, '"sig":"A'),
      line.replace('{"entry":{"actor":"alice"', '{"entry":{"actor":"al\\u0069ce"'),
      line.replace('"reason":"quarterly check"', '"reason":"quarterly check","a":1'),
      `${line} `,
    ]) {
      expect(odd).not.toBe(line);
      expect(readCanonicalEntryLine(odd), odd.slice(0, 80)).toBeNull();
    }
  });
});

describe('halfkey journal verify', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), env: {}, cwd: VECTORS_DIR } };
  };

  it('verifies anchored by default and says so; --full checks every device signature and says so', async () => {
    const anchored = io();
    expect(await runJournal(['verify', 'bundle.hkj'], anchored.io)).toBe(0);
    expect(anchored.out.join('')).toContain("Mode: anchored: 6 entries attested by a later checkpoint's device signature");
    const full = io();
    expect(await runJournal(['verify', 'bundle.hkj', '--full', '--workers', '0'], full.io)).toBe(0);
    expect(full.out.join('')).toContain('Mode: full: every signature of every entry checked');
    const json = io();
    expect(await runJournal(['verify', 'bundle.hkj', '--json', '--full'], json.io)).toBe(0);
    expect(JSON.parse(json.out.join('')) as { mode: string; chain: { mode: string; anchoredEntries: number } }).toMatchObject({
      mode: 'full',
      chain: { mode: 'full', anchoredEntries: 0 },
    });
    expect(full.out.join('')).toContain('Result: VALID');
  });

  it('the depth vector fails with exit 1, naming the too-deep entry first, in both modes', async () => {
    for (const args of [[], ['--full']]) {
      const r = io();
      expect(await runJournal(['verify', 'depth-limit.hkj', ...args], r.io)).toBe(1);
      expect(r.err.join('')).toMatch(
        /^verification FAILED at the bundle: MALFORMED_ENTRY: line \d+: the entry is nested deeper than 16 levels/,
      );
    }
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumNow, sodiumReady } from '../../shared/sodium';
import type { JsonValue } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import { inclusionProof, merkleRoot } from '../../shared/journal/merkle';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import { type BundleManifest, type BundleReport } from '../../shared/journal/bundle';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { verifyBundleFileParallel } from '../../electron/journal/parallel-verify';
import { VECTORS_DIR } from '../support/journal-vectors';
import { TestJournal, insiderRewrite, seededSigner } from '../support/journal-builder';
import { bundleOf } from '../support/journal-bundles';

/**
 * Where docs/journal-format.md, the TypeScript verifier (one core and worker threads) and the
 * independent Python verifier must agree: each case is checked by all three.
 */

const PYTHON_VERIFIER = join(VECTORS_DIR, 'verify_vectors.py');
let dir: string;
const open: TestJournal[] = [];

beforeAll(async () => {
  await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-conformance-'));
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A journal with two custodians, checkouts by alice and checkpoints every 4 entries. */
function sampleJournal(): TestJournal {
  const j = new TestJournal({ checkpointEvery: 4 });
  open.push(j);
  j.store.append({ type: 'session.started', data: {} });
  const alice = j.enrol('alice', 2);
  j.enrol('bob', 3);
  for (let n = 0; n < 3; n++) {
    j.tick();
    j.store.append({ type: 'checkout.opened', actor: alice, data: { n: 4, limit: 60_000 } });
  }
  j.store.append({ type: 'session.ended', data: {} });
  j.store.checkpoint();
  return j;
}

let fileNo = 0;
/**
 * Verifies a bundle text on one core, on worker threads and with the Python verifier, each both
 * anchored (the default) and --full: none of the cases here touches an entry's own device
 * signature, so the two modes must report exactly the same (asserted here for every case).
 */
async function verifyEverywhere(
  text: string,
): Promise<{ one: BundleReport; parallel: BundleReport; python: string; pythonStatus: number | null }> {
  const path = join(dir, `b${fileNo++}.hkj`);
  writeFileSync(path, text);
  const one = await verifyBundleFile(path);
  const parallel = await verifyBundleFileParallel(path, { workers: 2 });
  const fullOne = await verifyBundleFile(path, { mode: 'full' });
  const fullParallel = await verifyBundleFileParallel(path, { workers: 2, mode: 'full' });
  expect([one.mode, parallel.mode, fullOne.mode, fullParallel.mode]).toEqual(['anchored', 'anchored', 'full', 'full']);
  expect(fullOne.failures, 'full and anchored report the same failures').toEqual(one.failures);
  expect(parallel.failures, 'worker threads report what one core reports').toEqual(one.failures);
  expect(fullParallel.failures).toEqual(one.failures);
  const py = spawnSync('python3', [PYTHON_VERIFIER, path], { encoding: 'utf8' });
  const pyFull = spawnSync('python3', [PYTHON_VERIFIER, '--full', path], { encoding: 'utf8' });
  expect(pyFull.stdout.replace(', full)', ', anchored)'), 'the Python verifier reports the same in both modes').toBe(py.stdout);
  expect(pyFull.status).toBe(py.status);
  return { one, parallel, python: py.stdout, pythonStatus: py.status };
}

const failuresAt = (report: BundleReport, seq: number | null) => report.failures.filter((f) => f.seq === seq);

describe('the verifiers agree with docs/journal-format.md', () => {
  it("an untouched bundle built here verifies everywhere (so every refusal below is the edit's)", async () => {
    const j = sampleJournal();
    const r = await verifyEverywhere(bundleOf([...j.entries()], j.device));
    expect(r.one.failures).toEqual([]);
    expect(r.parallel.failures).toEqual([]);
    expect(r.python).toMatch(/^VALID/);
  });

  it('refuses entry lines that are not canonical JSON (floats, exponents, whitespace, a repeated member) as MALFORMED_ENTRY', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    const target = entries.find((e) => e.type === 'checkout.opened')!;
    const variants: [string, (line: string) => string, RegExp][] = [
      ['4.0 for 4', (l) => l.replace('"n":4', '"n":4.0'), /the number 4\.0 is not an integer/],
      ['6e4 for 60000', (l) => l.replace('"limit":60000', '"limit":6e4'), /the number 6e4 is not an integer/],
      ['whitespace', (l) => l.replace('{"entry":{', '{"entry": {'), /whitespace/],
      // JSON.parse keeps the last of two members; a parser keeping the first would read seq 999.
      ['a second seq', (l) => l.replace(`"seq":${target.seq},`, `"seq":999,"seq":${target.seq},`), /member "seq" appears twice/],
      [
        'an escaped letter',
        (l) => l.replace('"type":"checkout.opened"', '"type":"\\u0063heckout.opened"'),
        /not escaped as RFC 8785 requires/,
      ],
    ];
    for (const [name, edit, reason] of variants) {
      const text = bundleOf(entries, j.device, { line: (l, e) => (e.seq === target.seq ? edit(l) : l) });
      expect(text, name).not.toBe(bundleOf(entries, j.device));
      const r = await verifyEverywhere(text);
      for (const report of [r.one, r.parallel]) {
        expect(failuresAt(report, target.seq), name).toEqual([
          { seq: target.seq, code: 'MALFORMED_ENTRY', reason: expect.stringMatching(reason) },
        ]);
        expect(report.ok).toBe(false);
      }
      expect(r.python, name).toContain(`seq ${target.seq}: MALFORMED_ENTRY`);
      expect(r.pythonStatus).toBe(1);
    }
  });

  it('refuses any other line that is not canonical JSON as BAD_BUNDLE', async () => {
    const j = sampleJournal();
    const r = await verifyEverywhere(
      bundleOf([...j.entries()], j.device, { header: '{"format":"halfkey-journal-bundle","kind":"header","version":1.0}\n' }),
    );
    for (const report of [r.one, r.parallel]) {
      expect(report.failures).toEqual([
        { seq: null, code: 'BAD_BUNDLE', reason: expect.stringMatching(/line 1 is not canonical JSON: the number 1\.0/) },
      ]);
    }
    expect(r.python).toContain('BAD_BUNDLE: line 1 is not canonical JSON');
  });

  it('an entry record whose entry is not an object is MALFORMED_ENTRY, not a crash', async () => {
    const j = sampleJournal();
    for (const odd of ['null', '5', '[]']) {
      const r = await verifyEverywhere(
        bundleOf([...j.entries()], j.device, { line: (l, e) => (e.seq === 1 ? `{"entry":${odd},"kind":"entry"}` : l) }),
      );
      for (const report of [r.one, r.parallel])
        expect(report.failures[0]).toEqual({ seq: null, code: 'MALFORMED_ENTRY', reason: expect.stringContaining('expected object') });
    }
  });

  it('a checkpoint whose size is not its seq fails CHECKPOINT_ROOT_MISMATCH', async () => {
    const j = sampleJournal();
    const before = [...j.entries()];
    const cp = before.find((e) => e.type === 'checkpoint')!;
    const forged = insiderRewrite(before, j, (b) =>
      b.seq === cp.seq ? { body: { ...b, data: { ...b.data, size: cp.seq + 1 } } } : undefined,
    );
    const r = await verifyEverywhere(bundleOf(forged, j.device));
    for (const report of [r.one, r.parallel])
      expect(report.failures).toEqual([
        { seq: cp.seq, code: 'CHECKPOINT_ROOT_MISMATCH', reason: expect.stringContaining(`must be ${cp.seq}`) },
      ]);
    expect(r.python).toContain(`seq ${cp.seq}: CHECKPOINT_ROOT_MISMATCH`);
  });

  it('a checkpoint co-signed by a custodian, or naming an actor, fails MALFORMED_ENTRY', async () => {
    const j = sampleJournal();
    const before = [...j.entries()];
    const cp = before.find((e) => e.type === 'checkpoint')!;
    const alice = j.custodians.get('alice')!;
    const cosigned = insiderRewrite(before, j, (b) => (b.seq === cp.seq ? { body: b, signers: [j.device, alice] } : undefined));
    const withActor = insiderRewrite(before, j, (b) => (b.seq === cp.seq ? { body: { ...b, actor: 'alice' } } : undefined));
    const r1 = await verifyEverywhere(bundleOf(cosigned, j.device));
    for (const report of [r1.one, r1.parallel])
      expect(report.failures).toEqual([
        { seq: cp.seq, code: 'MALFORMED_ENTRY', reason: expect.stringContaining('signed by the device key only') },
      ]);
    expect(r1.python).toContain(`seq ${cp.seq}: MALFORMED_ENTRY`);
    const r2 = await verifyEverywhere(bundleOf(withActor, j.device));
    for (const report of [r2.one, r2.parallel]) {
      expect(report.failures.map((f) => f.code)).toEqual(['MALFORMED_ENTRY', 'MALFORMED_ENTRY']);
      expect(report.failures[0]!.reason).toContain('a checkpoint has no actor');
    }
    expect(r2.python).toContain(`seq ${cp.seq}: MALFORMED_ENTRY`);
  });

  it('a bundle whose last line lacks its line feed was cut short: BAD_BUNDLE', async () => {
    const j = sampleJournal();
    const r = await verifyEverywhere(bundleOf([...j.entries()], j.device, { noFinalLineFeed: true }));
    for (const report of [r.one, r.parallel])
      expect(report.failures).toEqual([
        { seq: null, code: 'BAD_BUNDLE', reason: expect.stringContaining('has no line feed: the file was cut short') },
      ]);
    expect(r.python).toContain('BAD_BUNDLE: the last line has no line feed');
  });

  it('a manifest lastCheckpoint or requested range that the entries do not bear out fails MANIFEST_MISMATCH', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    const made: [string, (m: BundleManifest) => BundleManifest, string][] = [
      ['a made-up checkpoint hash', (m) => ({ ...m, lastCheckpoint: { ...m.lastCheckpoint!, hash: 'ab'.repeat(32) } }), 'lastCheckpoint'],
      [
        'an earlier checkpoint',
        (m) => ({ ...m, lastCheckpoint: { seq: 4, hash: entries[4]!.hash, root: String(entries[4]!.data.root) } }),
        'lastCheckpoint',
      ],
      ['no checkpoint', (m) => ({ ...m, lastCheckpoint: null }), 'lastCheckpoint'],
      ['a range past the head', (m) => ({ ...m, requested: { from: m.head.seq + 1, to: null } }), 'starts at seq'],
      ['an open range in an incomplete bundle', (m) => ({ ...m, complete: false }), 'not complete'],
      [
        'an incomplete bundle ending before its range',
        (m) => ({ ...m, complete: false, requested: { from: 0, to: m.head.seq + 5 } }),
        `ends at seq ${entries.at(-1)!.seq + 5}`,
      ],
      ['a range ending before it starts', (m) => ({ ...m, requested: { from: 3, to: 2 } }), 'before it starts'],
    ];
    expect(entries[4]!.type).toBe('checkpoint');
    for (const [name, edit, reason] of made) {
      const r = await verifyEverywhere(bundleOf(entries, j.device, { manifest: edit }));
      for (const report of [r.one, r.parallel])
        expect(report.failures, name).toEqual([{ seq: null, code: 'MANIFEST_MISMATCH', reason: expect.stringContaining(reason) }]);
      expect(r.python, name).toContain('MANIFEST_MISMATCH');
    }
    // A partial export (--to) that ends where it was asked to verifies.
    const partial = entries.slice(0, 5);
    const ok = await verifyEverywhere(
      bundleOf(partial, j.device, { manifest: (m) => ({ ...m, complete: false, requested: { from: 2, to: 4 } }) }),
    );
    expect(ok.one.failures).toEqual([]);
    expect(ok.python).toMatch(/^VALID/);
  });

  it('a device key the journal rotated away from cannot be enrolled as a custodian key (MALFORMED_ENTRY in both verifiers)', async () => {
    const j = new TestJournal({ checkpointEvery: 4 });
    open.push(j);
    j.enrol('ada', 2, { role: 'admin' });
    j.enrol('bob', 3);
    j.store.rotateDeviceKey(seededSigner(9));
    // seededSigner(1) signed this journal as its device before the rotation.
    j.enrol('mallory', 1, { role: 'password-custodian' });
    const enrolment = [...j.entries()].find((e) => e.type === 'custodian.enrolled' && e.data.custodian === 'mallory')!;
    j.store.checkpoint();
    const r = await verifyEverywhere(bundleOf([...j.entries()], seededSigner(9)));
    for (const report of [r.one, r.parallel])
      expect(failuresAt(report, enrolment.seq)).toContainEqual({
        seq: enrolment.seq,
        code: 'MALFORMED_ENTRY',
        reason: expect.stringContaining('is already in use'),
      });
    expect(r.python).toContain(`seq ${enrolment.seq}: MALFORMED_ENTRY`);
  });

  it('a device key rotated onto a custodian key, even a revoked one, fails MALFORMED_ENTRY', async () => {
    for (const revokeFirst of [false, true]) {
      const j = sampleJournal();
      const bob = j.custodians.get('bob')!;
      if (revokeFirst) j.store.append({ type: 'custodian.revoked', data: { signingKey: bob.publicKey } });
      const rotation = j.store.rotateDeviceKey(bob);
      j.store.checkpoint();
      const r = await verifyEverywhere(bundleOf([...j.entries()], bob));
      for (const report of [r.one, r.parallel]) {
        expect(failuresAt(report, rotation.seq)).toEqual([
          { seq: rotation.seq, code: 'MALFORMED_ENTRY', reason: expect.stringContaining("is custodian bob's signing key") },
        ]);
      }
      expect(r.python).toContain(`seq ${rotation.seq}: MALFORMED_ENTRY`);
    }
    // A fresh key is still fine.
    const j = sampleJournal();
    const fresh = seededSigner(9);
    j.store.rotateDeviceKey(fresh);
    j.store.checkpoint();
    const r = await verifyEverywhere(bundleOf([...j.entries()], fresh));
    expect(r.one.failures).toEqual([]);
    expect(r.python).toMatch(/^VALID/);
  });

  it('checks server receipts alike: good ones, a fork, a broken proof, a head under another key, a misplaced one, an unpinned key', async () => {
    const sodium = sodiumNow();
    const j = sampleJournal();
    const entries = [...j.entries()];
    const server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(201));
    const other = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(202));
    const serverKey = sodium.to_hex(server.publicKey);
    // The server's log of this device, except that at seq 3 it holds another entry (a fork).
    const leaves = entries.map((e) => sodium.from_hex(e.seq === 3 ? 'ab'.repeat(32) : e.hash));
    const head = { size: leaves.length, root: sodium.to_hex(merkleRoot(leaves)), timestamp: j.clock };
    const signedBy = (key: Uint8Array) => ({
      ...head,
      signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(head), key)),
    });
    const receipt = (seq: number, edit: (r: Record<string, JsonValue>) => Record<string, JsonValue> = (r) => r) => ({
      serverKey,
      receipt: edit({
        device: entries[seq]!.device,
        seq,
        entryHash: sodium.to_hex(leaves[seq]!),
        logIndex: seq,
        treeHead: signedBy(server.privateKey),
        inclusionProof: inclusionProof(seq, leaves).map((h) => sodium.to_hex(h)),
      }),
    });
    const cases: [string, (e: SignedEntry) => ReturnType<typeof receipt>[], [number, string][]][] = [
      ['good receipts', (e) => (e.seq === 1 || e.seq === 2 ? [receipt(e.seq)] : []), []],
      ['a fork at seq 3', (e) => (e.seq === 3 ? [receipt(3)] : []), [[3, 'FORK']]],
      [
        'a broken proof',
        (e) =>
          e.seq === 2 ? [receipt(2, (r) => ({ ...r, inclusionProof: ['00'.repeat(32), ...(r.inclusionProof as string[]).slice(1)] }))] : [],
        [[2, 'BAD_RECEIPT']],
      ],
      [
        'a head signed by another key',
        (e) => (e.seq === 2 ? [receipt(2, (r) => ({ ...r, treeHead: signedBy(other.privateKey) }))] : []),
        [[2, 'BAD_RECEIPT']],
      ],
      ['a receipt after the wrong entry', (e) => (e.seq === 4 ? [receipt(2)] : []), [[2, 'BAD_RECEIPT']]],
    ];
    for (const [name, receipts, expected] of cases) {
      const r = await verifyEverywhere(bundleOf(entries, j.device, { receipts }));
      expect(
        r.one.failures.map((f) => [f.seq, f.code]),
        name,
      ).toEqual(expected);
      const python = [...r.python.matchAll(/^INVALID: seq (\d+): ([A-Z_]+)/gm)].map((m) => [Number(m[1]), m[2]]);
      expect(python, name).toEqual(expected);
      expect(r.pythonStatus, name).toBe(expected.length === 0 ? 0 : 1);
    }
    // Pinned to another server key, a good receipt fails in both.
    const path = join(dir, 'pinned.hkj');
    writeFileSync(path, bundleOf(entries, j.device, { receipts: (e) => (e.seq === 1 ? [receipt(1)] : []) }));
    const pinnedTs = await verifyBundleFile(path, { serverKeys: [sodium.to_hex(other.publicKey)] });
    expect(pinnedTs.failures.map((f) => [f.seq, f.code])).toEqual([[1, 'BAD_RECEIPT']]);
    const pinnedPy = spawnSync('python3', [PYTHON_VERIFIER, '--server-key', sodium.to_hex(other.publicKey), path], { encoding: 'utf8' });
    expect(pinnedPy.stdout).toMatch(/^INVALID: seq 1: BAD_RECEIPT: under a server key other than the pinned ones/m);
    const rightKey = spawnSync('python3', [PYTHON_VERIFIER, '--server-key', serverKey, path], { encoding: 'utf8' });
    expect(rightKey.stdout).toMatch(/^VALID/);
  });

  it('verifies the bytes, not a lenient decoding: a line that is not UTF-8 is BAD_BUNDLE in both verifiers', async () => {
    const j = sampleJournal();
    j.store.append({ type: 'note.added', data: { text: 'typed as \ufffd by a custodian' } });
    j.store.checkpoint();
    const entries = [...j.entries()];
    const good = Buffer.from(bundleOf(entries, j.device), 'utf8');
    // The replacement character's bytes (EF BF BD) swapped for one byte that is not UTF-8: a lenient
    // decoder reads the same text, so the entry hash and the part hash would still match.
    const at = good.indexOf(Buffer.from([0xef, 0xbf, 0xbd]));
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.concat([good.subarray(0, at), Buffer.from([0xff]), good.subarray(at + 3)]);
    const path = join(dir, 'not-utf8.hkj');
    writeFileSync(path, bad);
    const line = bad.subarray(0, at).toString('latin1').split('\n').length;
    const one = await verifyBundleFile(path);
    const parallel = await verifyBundleFileParallel(path, { workers: 2 });
    expect(one.failures[0]).toEqual({ seq: null, code: 'BAD_BUNDLE', reason: `line ${line} is not UTF-8 text` });
    expect(parallel.failures).toEqual(one.failures);
    const py = spawnSync('python3', [PYTHON_VERIFIER, path], { encoding: 'utf8' });
    expect(py.status).toBe(1);
    const codes = (text: string) =>
      [...text.matchAll(/^INVALID: (?:seq (\S+): )?([A-Z_]+)/gm)].map((m) => [m[1] === undefined ? null : Number(m[1]), m[2]]);
    expect(codes(py.stdout)).toEqual(one.failures.map((f) => [f.seq, f.code]));
    expect(py.stdout).toContain(`BAD_BUNDLE: line ${line} is not UTF-8 text`);
  });
});

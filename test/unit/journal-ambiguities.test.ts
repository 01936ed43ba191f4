import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { type BundleManifest, type BundleReport } from '../../shared/journal/bundle';
import { sodiumNow } from '../../shared/sodium';
import { bytesToHex } from '../../shared/journal/hex';
import { entryBodyOf, entrySignatureMessage, signEntry, type EntryBody, type SignedEntry } from '../../shared/journal/entry';
import { merkleRoot } from '../../shared/journal/merkle';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { verifyBundleFileParallel } from '../../electron/journal/parallel-verify';
import { VECTORS_DIR } from '../support/journal-vectors';
import { TestJournal, insiderRewrite, journalsClosedAfterEach } from '../support/journal-builder';
import { bundleOf, scratchDir } from '../support/journal-bundles';

/**
 * The cases docs/journal-format.md settles for an outside verifier (issue 16, "Ambiguities to
 * settle in the spec"). Each bundle goes through the TypeScript verifier and the independent
 * Python verifier, which must report the same (seq, code) list in the same order, and that list
 * is the one the spec calls for.
 */

const PYTHON_VERIFIER = join(VECTORS_DIR, 'verify_vectors.py');
const journal = journalsClosedAfterEach();
let scratch: ReturnType<typeof scratchDir>;
beforeAll(async () => {
  await sodiumReady();
  scratch = scratchDir();
});
afterAll(() => scratch.remove());

export type Coded = readonly [number | null, string];

/** The Python verifier's report as (seq, code) pairs: each `INVALID: [seq N: ]CODE…` line. */
export function pythonCodes(stdout: string): Coded[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('INVALID: '))
    .map((l) => {
      const m = /^INVALID: (?:seq (None|-?\d+): )?([A-Z][A-Z_]+)\b/.exec(l);
      return [m === null || m[1] === 'None' || m[1] === undefined ? null : Number(m[1]), m?.[2] ?? `(no code) ${l}`] as const;
    });
}

export const tsCodes = (report: BundleReport): Coded[] => report.failures.map((f) => [f.seq, f.code] as const);

let fileNo = 0;
async function both(text: string): Promise<{ ts: Coded[]; python: Coded[]; stdout: string }> {
  const path = join(scratch.dir, `b${fileNo++}.hkj`);
  writeFileSync(path, text);
  const report = await verifyBundleFile(path);
  const py = spawnSync('python3', [PYTHON_VERIFIER, path], { encoding: 'utf8' });
  return { ts: tsCodes(report), python: pythonCodes(py.stdout), stdout: py.stdout };
}

/** A session with two founding custodians and three checkouts by alice, then a checkpoint (one is due every 4 entries). */
function sampleJournal(): TestJournal {
  const j = journal({ checkpointEvery: 4 });
  j.store.append({ type: 'session.started', data: {} });
  const [alice] = [j.enrol('alice', 2), j.enrol('bob', 3)];
  for (const n of [4, 4, 4]) {
    j.tick();
    j.store.append({ type: 'checkout.opened', actor: alice!, data: { n, limit: 60_000 } });
  }
  j.store.append({ type: 'session.ended', data: {} });
  j.store.checkpoint();
  return j;
}

type EntryTamper = (entries: SignedEntry[]) => { entries: SignedEntry[]; line?: (l: string, e: SignedEntry) => string };
const checkoutSeq = (entries: readonly SignedEntry[]) => entries.find((e) => e.type === 'checkout.opened')!.seq;

const ENTRY_TAMPERS: [string, EntryTamper][] = [
  ['no entry tamper', (entries) => ({ entries })],
  ['a changed data value', (entries) => ({ entries, line: (l, e) => (e.seq === checkoutSeq(entries) ? l.replace('"n":4', '"n":5') : l) })],
  ['an entry removed', (entries) => ({ entries: entries.filter((e) => e.seq !== checkoutSeq(entries)) })],
  ['an entry repeated', (entries) => ({ entries: entries.flatMap((e) => (e.seq === checkoutSeq(entries) ? [e, e] : [e])) })],
  [
    'an entry line not canonical',
    (entries) => ({ entries, line: (l, e) => (e.seq === checkoutSeq(entries) ? l.replace('"n":4', '"n":4.0') : l) }),
  ],
];

type BundleTamper = (
  make: (manifest?: (m: BundleManifest) => BundleManifest, noFinalLineFeed?: boolean, header?: string) => string,
) => string;
const HEADER = '{"format":"halfkey-journal-bundle","kind":"header","version":1}\n';
const BUNDLE_TAMPERS: [string, BundleTamper][] = [
  ['no bundle tamper', (make) => make()],
  ['a manifest head one short', (make) => make((m) => ({ ...m, head: { ...m.head, seq: m.head.seq + 1 } }))],
  ['a part line count off by one', (make) => make((m) => ({ ...m, parts: { ...m.parts, roster: { ...m.parts.roster, lines: 9 } } }))],
  [
    'a broken manifest signature',
    (make) =>
      make().replace(
        /"sig":"([0-9a-f])([0-9a-f]{127})"\}\}\n$/,
        (_, c: string, rest: string) => `"sig":"${c === '0' ? '1' : '0'}${rest}"}}\n`,
      ),
  ],
  ['a malformed manifest (an extra member)', (make) => make((m) => ({ ...m, extra: 1 }) as BundleManifest)],
  ['a malformed manifest (no head)', (make) => make((m) => ({ ...m, head: undefined }) as unknown as BundleManifest)],
  ['no manifest line', (make) => make().replace(/[^\n]*\n$/, '')],
  ['cut short', (make) => make(undefined, true)],
  ['no header', (make) => make(undefined, false, '')],
  ['a line after the manifest', (make) => `${make()}${HEADER}`],
  ['a wrong requested range', (make) => make((m) => ({ ...m, requested: { from: 3, to: 2 } }))],
];

/** Both verifiers (and the worker-thread one) on a bundle: the (seq, code) lists must be equal; returns that list. */
async function agreed(text: string): Promise<Coded[]> {
  const r = await both(text);
  const path = join(scratch.dir, `p${fileNo++}.hkj`);
  writeFileSync(path, text);
  const parallel = await verifyBundleFileParallel(path, { workers: 2 });
  expect(tsCodes(parallel), 'worker threads report what one core reports').toEqual(r.ts);
  expect(r.python, `the Python verifier reports what the TypeScript one does\n${r.stdout}`).toEqual(r.ts);
  return r.ts;
}

/** A body's JSON with sorted members but no refusal of lone surrogates: what a lax writer would hash. */
function laxCanonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(laxCanonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${laxCanonical(record[k])}`)
    .join(',')}}`;
}

/**
 * A bundle whose journal ends with an entry holding `lone` (a string with a lone surrogate) in
 * place of PLACEHOLDER, hashed and device-signed as a lax writer would (the hash over its UTF-8,
 * where the surrogate becomes U+FFFD), then a checkpoint over every entry including it: a verifier
 * that does not refuse the surrogate finds nothing wrong.
 */
function loneSurrogateBundle(j: TestJournal, body: (base: EntryBody) => EntryBody, lone: string): { text: string; seq: number } {
  const sodium = sodiumNow();
  const entries = [...j.entries()];
  const last = entries.at(-1)!;
  const base: EntryBody = {
    ...entryBodyOf(last),
    seq: last.seq + 1,
    prev: last.hash,
    time: last.time + 1_000,
    type: 'note.text',
    actor: null,
    data: {},
  };
  const withPlaceholder = body(base);
  const real = JSON.parse(laxCanonical(withPlaceholder).replaceAll('PLACEHOLDER', lone)) as EntryBody;
  const digest = sodium.crypto_hash_sha256(new TextEncoder().encode(laxCanonical(entryBodyOf(real))));
  const sigs = [{ key: j.device.publicKey, sig: bytesToHex(j.device.sign(entrySignatureMessage(digest))) }];
  const forged: SignedEntry = { ...entryBodyOf(withPlaceholder), hash: bytesToHex(digest), sigs };
  const leaves = [...entries, forged].map((e) => sodium.from_hex(e.hash));
  const checkpoint = signEntry(
    {
      ...base,
      seq: forged.seq + 1,
      prev: forged.hash,
      time: forged.time + 1_000,
      type: 'checkpoint',
      data: { size: forged.seq + 1, root: sodium.to_hex(merkleRoot(leaves, sodium)) },
    },
    [j.device],
  );
  const escaped = JSON.stringify(lone).slice(1, -1);
  const text = bundleOf([...entries, forged, checkpoint], j.device, {
    line: (l, e) => (e.seq === forged.seq ? l.replaceAll('PLACEHOLDER', escaped) : l),
  });
  return { text, seq: forged.seq };
}

describe('settled in docs/journal-format.md, and both verifiers follow it', () => {
  it('1. a lone surrogate in a string (section 2.1) is MALFORMED_ENTRY and the entry is skipped; a surrogate pair is fine', async () => {
    const lone = `a${String.fromCharCode(0xd800)}b`;
    const shapes: [string, (b: EntryBody) => EntryBody, string][] = [
      ['in a data value', (b) => ({ ...b, data: { text: 'PLACEHOLDER' } }), lone],
      ['in a data member name', (b) => ({ ...b, data: { PLACEHOLDER: 1 } }), lone],
      ['a trailing low surrogate', (b) => ({ ...b, data: { text: 'PLACEHOLDER' } }), `x${String.fromCharCode(0xdc00)}`],
      ['in the actor', (b) => ({ ...b, actor: 'PLACEHOLDER' }), lone],
    ];
    for (const [name, body, text] of shapes) {
      const j = sampleJournal();
      const forged = loneSurrogateBundle(j, body, text);
      expect(forged.text, name).toContain('\\ud');
      expect(await agreed(forged.text), name).toEqual([
        [forged.seq, 'MALFORMED_ENTRY'],
        [forged.seq + 1, 'SEQUENCE_GAP'],
        [forged.seq + 1, 'CHECKPOINT_ROOT_MISMATCH'],
      ]);
    }
    const j = sampleJournal();
    j.store.append({ type: 'note.text', data: { text: 'a \u{1F600} pair, written as is' } });
    j.store.checkpoint();
    const paired = bundleOf([...j.entries()], j.device);
    expect(paired).toContain('\u{1F600}');
    expect(await agreed(paired)).toEqual([]);
  });

  it('2. an entry that is not of the format is skipped (no link, no leaf); one that breaks a content rule takes its place', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    const target = checkoutSeq(entries);
    const checkpoints = entries.filter((e) => e.type === 'checkpoint' && e.seq > target).map((e) => e.seq);
    // A member section 2 does not have, in a line that is otherwise canonical: skipped.
    const extraMember = bundleOf(entries, j.device, { line: (l, e) => (e.seq === target ? l.replace('"prev":', '"note":1,"prev":') : l) });
    expect(await agreed(extraMember)).toEqual([
      [target, 'MALFORMED_ENTRY'],
      [target + 1, 'SEQUENCE_GAP'],
      ...checkpoints.map((seq) => [seq, 'CHECKPOINT_ROOT_MISMATCH'] as const),
    ]);
    // A key signing twice breaks a rule about an entry of the right shape: it is linked and a leaf,
    // so nothing after it fails.
    const alice = j.custodians.get('alice')!;
    const twice = insiderRewrite(entries, j, (b) => (b.seq === target ? { body: b, signers: [j.device, alice, alice] } : undefined));
    expect(await agreed(bundleOf(twice, j.device))).toEqual([[target, 'MALFORMED_ENTRY']]);
  });

  it('3. after a SEQUENCE_GAP, prev is not compared (no BROKEN_LINK) and the entry takes its place', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    const target = checkoutSeq(entries);
    const removed = entries.filter((e) => e.seq !== target);
    expect(removed.find((e) => e.seq === target + 1)!.prev).not.toBe(entries[target - 1]!.hash);
    const codes = await agreed(bundleOf(removed, j.device));
    expect(codes[0]).toEqual([target + 1, 'SEQUENCE_GAP']);
    expect(codes.filter(([, code]) => code === 'BROKEN_LINK')).toEqual([]);
    // The entry after it links to it: no failure at target + 2.
    expect(codes.filter(([seq]) => seq === target + 2)).toEqual([]);
  });

  it('4. a repeat of the previous entry is DUPLICATE_ENTRY; the same seq with other content is OUT_OF_ORDER; both are skipped', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    const target = checkoutSeq(entries);
    const original = entries[target]!;
    const alice = j.custodians.get('alice')!;
    const other = signEntry({ ...entryBodyOf(original), data: { ...original.data, n: 5 } }, [j.device, alice]);
    const insertAfter = (extra: SignedEntry) => entries.flatMap((e) => (e.seq === target ? [e, extra] : [e]));
    expect(await agreed(bundleOf(insertAfter(original), j.device))).toEqual([[target, 'DUPLICATE_ENTRY']]);
    expect(await agreed(bundleOf(insertAfter(other), j.device))).toEqual([[target, 'OUT_OF_ORDER']]);
    // An older seq again, identical or not, is OUT_OF_ORDER.
    expect(await agreed(bundleOf(insertAfter(entries[target - 1]!), j.device))).toEqual([[target - 1, 'OUT_OF_ORDER']]);
  });

  it('6. a manifest without the members and types of section 9.1 is BAD_BUNDLE, and none of its claims is checked', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    for (const edit of [
      (m: BundleManifest) => ({ ...m, extra: 1 }) as BundleManifest,
      (m: BundleManifest) => ({ ...m, head: { seq: '3', hash: m.head.hash } }) as unknown as BundleManifest,
      (m: BundleManifest) => ({ ...m, parts: { ...m.parts, csv: undefined } }) as unknown as BundleManifest,
    ])
      expect(await agreed(bundleOf(entries, j.device, { manifest: edit }))).toEqual([[null, 'BAD_BUNDLE']]);
  });

  it('7. checkpoint data with a member besides size, root and heartbeat (or heartbeat not true) is MALFORMED_ENTRY; it still takes its place', async () => {
    for (const [name, extra, expected] of [
      ['an extra member', { note: 'looks attested' }, 'MALFORMED_ENTRY'],
      ['heartbeat false', { heartbeat: false }, 'MALFORMED_ENTRY'],
      ['heartbeat true', { heartbeat: true }, null],
    ] as const) {
      const j = sampleJournal();
      const entries = [...j.entries()];
      const cp = entries.find((e) => e.type === 'checkpoint')!;
      const forged = insiderRewrite(entries, j, (b) => (b.seq === cp.seq ? { body: { ...b, data: { ...b.data, ...extra } } } : undefined));
      expect(await agreed(bundleOf(forged, j.device)), name).toEqual(expected === null ? [] : [[cp.seq, expected]]);
    }
  });
});

describe('the first failure (section 10.5): the TypeScript and Python verifiers report the same failures in the same order', () => {
  it('every entry tamper combined with every bundle tamper', async () => {
    const j = sampleJournal();
    const entries = [...j.entries()];
    const disagreements: string[] = [];
    for (const [entryName, entryTamper] of ENTRY_TAMPERS) {
      for (const [bundleName, bundleTamper] of BUNDLE_TAMPERS) {
        const t = entryTamper(entries);
        const text = bundleTamper((manifest, noFinalLineFeed, header) =>
          bundleOf(t.entries, j.device, { line: t.line, manifest, noFinalLineFeed, header }),
        );
        const r = await both(text);
        const name = `${entryName} + ${bundleName}`;
        if (entryName !== 'no entry tamper' || bundleName !== 'no bundle tamper') expect(r.ts.length, name).toBeGreaterThan(0);
        if (JSON.stringify(r.ts) !== JSON.stringify(r.python))
          disagreements.push(`${name}\n  ts:     ${JSON.stringify(r.ts)}\n  python: ${JSON.stringify(r.python)}`);
      }
    }
    expect(disagreements.join('\n')).toBe('');
  });
});

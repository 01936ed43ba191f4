import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { ChainVerifier } from '../../shared/journal/verifier';
import { entrySchema, isWellFormedEntry } from '../../shared/journal/entry-shape';
import { BundleVerifier, entryLine, headerLine } from '../../shared/journal/bundle';
import { bytesToHex, hexToBytes } from '../../shared/journal/hex';
import { sodiumPrimitives } from '../../shared/journal/primitives';
import { nativePrimitives } from '../../server/native-primitives';
import { TestJournal } from '../support/journal-builder';
import { CanonicalEncodingError, canonicalTextProblem, canonicalize } from '../../shared/journal/canonical';
import { canonicalBodyText, canonicalEntryTexts, entryBodyOf, type EntryBody, type SignedEntry } from '../../shared/journal/entry';

let sodium: Sodium;
const open: TestJournal[] = [];
beforeAll(async () => {
  sodium = await sodiumReady();
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
});

describe('canonicalBodyText (the per-entry canonical encoder)', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.constant(-0),
      fc.string({ unit: 'binary' }),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(fc.string({ unit: 'binary' }), tie('value'), { maxKeys: 4 }),
    ),
  })).value;
  const body = fc.record({
    v: fc.oneof(fc.constant(1), fc.constant(-0), fc.maxSafeInteger()),
    vault: fc.string({ unit: 'binary' }),
    device: fc.string({ unit: 'binary' }),
    seq: fc.maxSafeInteger(),
    prev: fc.string({ unit: 'binary' }),
    time: fc.maxSafeInteger(),
    type: fc.string({ unit: 'binary' }),
    actor: fc.option(fc.string({ unit: 'binary' }), { nil: null }),
    data: fc.dictionary(fc.string({ unit: 'binary' }), json, { maxKeys: 5 }),
  });

  it('is exactly RFC 8785 canonicalize(entryBodyOf(entry)), lone surrogates and -0 included', () => {
    fc.assert(
      fc.property(body, fc.dictionary(fc.string(), json, { maxKeys: 2 }), (b, extra) => {
        const entry = { ...extra, ...b } as unknown as EntryBody;
        expect(canonicalBodyText(entry)).toBe(canonicalize(entryBodyOf(entry)));
      }),
      { numRuns: 500 },
    );
  });

  it('canonicalEntryTexts gives that body and exactly the canonical bundle line of the whole entry', () => {
    const sig = fc.oneof(
      fc.record({ key: fc.string({ unit: 'binary' }), sig: fc.string({ unit: 'binary' }) }),
      fc.record({ sig: fc.string(), key: fc.string(), extra: json }),
      json,
    );
    fc.assert(
      fc.property(body, fc.string({ unit: 'binary' }), fc.array(sig, { maxLength: 3 }), (b, hash, sigs) => {
        const entry = { ...b, hash, sigs } as unknown as SignedEntry;
        const texts = canonicalEntryTexts(entry);
        expect(texts.body).toBe(canonicalBodyText(entry));
        expect(texts.line).toBe(canonicalize({ entry, kind: 'entry' }));
      }),
      { numRuns: 500 },
    );
  });

  it('canonicalTextProblem accepts canonical text and names a problem in any other encoding of the same value', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalize(value);
        expect(canonicalTextProblem(text)).toBeNull();
        const spaced = JSON.stringify(value, null, 1);
        if (spaced !== text) expect(canonicalTextProblem(spaced)).toMatch(/whitespace|out of order|escaped/);
      }),
      { numRuns: 500 },
    );
    expect(canonicalTextProblem('{"seq":1,"seq":1}')).toMatch(/member "seq" appears twice/);
    expect(canonicalTextProblem('{"n":1e2}')).toMatch(/the number 1e2 is not an integer/);
  });

  it('gives the same text or the same refusal for bodies that are not well formed', () => {
    const odd = fc.record({
      v: fc.oneof(fc.constant(1), fc.double(), fc.constant(undefined)),
      seq: fc.oneof(fc.nat(), fc.double(), fc.string()),
      time: fc.oneof(fc.nat(), fc.constant(Number.NaN)),
      actor: fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer()),
      data: fc.oneof(fc.constant(undefined), fc.constant({ f: 1.5 }), fc.constant({ ok: 1 })),
    });
    fc.assert(
      fc.property(body, odd, (b, o) => {
        const entry = { ...b, ...o } as unknown as EntryBody;
        let expected: string | Error;
        try {
          expected = canonicalize(entryBodyOf(entry));
        } catch (error) {
          expected = error as Error;
        }
        if (expected instanceof Error) {
          expect(expected).toBeInstanceOf(CanonicalEncodingError);
          expect(() => canonicalBodyText(entry)).toThrow(expected.message);
        } else {
          expect(canonicalBodyText(entry)).toBe(expected);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('journal primitives: node:crypto and libsodium agree', () => {
  it('SHA-256, incremental text digests and hex conversions give the same results', () => {
    const lib = sodiumPrimitives(sodium);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 5 }), (bytes, texts) => {
        expect(bytesToHex(nativePrimitives.sha256(bytes))).toBe(bytesToHex(lib.sha256(bytes)));
        expect(bytesToHex(bytes)).toBe(sodium.to_hex(bytes));
        expect(hexToBytes(sodium.to_hex(bytes))).toEqual(bytes);
        const a = nativePrimitives.textDigest();
        const b = lib.textDigest();
        for (const t of texts) {
          a.update(t);
          b.update(t);
        }
        expect(a.hex()).toBe(b.hex());
      }),
      { numRuns: 200 },
    );
    expect(() => hexToBytes('abc')).toThrow(/whole bytes/);
    expect(() => hexToBytes('zz')).toThrow(/hex/);
  });

  it('both accept a real entry signature and both refuse a flipped bit, a wrong key and malformed input', () => {
    const j = new TestJournal();
    open.push(j);
    j.store.append({ type: 'test.event', data: { n: 1 } });
    const entry = [...j.entries()][1]!;
    const sig = entry.sigs[0]!;
    const lib = sodiumPrimitives(sodium);
    const flipped = { key: sig.key, sig: (sig.sig[0] === '0' ? '1' : '0') + sig.sig.slice(1) };
    const otherKey = { key: 'ab'.repeat(32), sig: sig.sig };
    for (const p of [lib, nativePrimitives]) {
      expect(p.verifyEntrySignature(entry.hash, sig)).toBe(true);
      expect(p.verifyEntrySignature(entry.hash, flipped)).toBe(false);
      expect(p.verifyEntrySignature(entry.hash, otherKey)).toBe(false);
      expect(p.verifyEntrySignature(entry.hash, { key: sig.key, sig: 'zz' })).toBe(false);
      expect(p.verifyEntrySignature('00'.repeat(32), sig)).toBe(false);
      // Only lowercase hex of the right length is an encoding of a signature or hash: the same
      // bytes in uppercase, or with one character changed to a non-hex one, are refused.
      expect(p.verifyEntrySignature(entry.hash, { key: sig.key, sig: sig.sig.toUpperCase() })).toBe(false);
      expect(p.verifyEntrySignature(entry.hash.toUpperCase(), sig)).toBe(false);
      for (const bad of ['g', 'G', ' ', '\u00e9', '\u{1F600}'.slice(0, 1)]) {
        expect(p.verifyEntrySignature(entry.hash, { key: sig.key, sig: sig.sig.slice(0, 127) + bad })).toBe(false);
        expect(p.verifyEntrySignature(entry.hash.slice(0, 63) + bad, sig)).toBe(false);
        expect(p.verifyEntrySignature(bad + entry.hash.slice(1), sig)).toBe(false);
      }
      expect(p.verifyEntrySignature(entry.hash, { key: sig.key, sig: sig.sig + '00' })).toBe(false);
    }
  });

  it('a chain verifier on node:crypto reaches the same verdicts and state as one on libsodium', () => {
    const j = new TestJournal({ checkpointEvery: 4 });
    open.push(j);
    for (let i = 0; i < 10; i++) j.store.append({ type: 'test.event', data: { i } });
    const entries = [...j.entries()];
    const tampered = entries.map((e, i) => (i === 5 ? { ...e, data: { i: 99 } } : e));
    for (const list of [entries, tampered]) {
      const lib = new ChainVerifier();
      const native = new ChainVerifier({ primitives: nativePrimitives });
      const libFailures = list.flatMap((e) => lib.push(e));
      const nativeFailures = list.flatMap((e) => native.push(e));
      expect(nativeFailures).toEqual(libFailures);
      expect(native.state()).toEqual(lib.state());
    }
    // The tampered copy really fails (so agreement above is not agreement on "nothing checked").
    const check = new ChainVerifier({ primitives: nativePrimitives });
    expect(tampered.flatMap((e) => check.push(e)).map((f) => f.code)).toContain('HASH_MISMATCH');
  });

  // The Merkle tree on native SHA-256 against libsodium: test/unit/journal-merkle.test.ts.
});

describe('entry shape fast path', () => {
  it('accepts real entries and never accepts anything the entry schema refuses', () => {
    const j = new TestJournal({ checkpointEvery: 3 });
    open.push(j);
    const alice = j.enrol('alice', 2);
    j.store.append({ type: 'checkout.opened', actor: alice, account: 'aws-prod', data: { half: 'password' } });
    const entries = [...j.entries()] as unknown as Record<string, unknown>[];
    for (const e of entries) expect(isWellFormedEntry(e)).toBe(true);
    const fields = [...Object.keys(entries[0]!), 'extra'];
    fc.assert(
      fc.property(
        fc.nat(entries.length - 1),
        fc.constantFrom(...fields),
        fc.option(fc.anything(), { nil: undefined }),
        fc.boolean(),
        (i, field, value, drop) => {
          const mutated: Record<string, unknown> = { ...entries[i]! };
          if (drop) delete mutated[field];
          else mutated[field] = value;
          if (isWellFormedEntry(mutated)) expect(entrySchema.safeParse(mutated).success).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
    const sigMutations = [
      {},
      { key: 'ab'.repeat(32) },
      { key: 'ab'.repeat(32), sig: 'x'.repeat(128) },
      { key: 'AB'.repeat(32), sig: 'a'.repeat(128) },
      { key: 'ab'.repeat(32), sig: 'a'.repeat(128), more: 1 },
    ];
    for (const sig of sigMutations) {
      const mutated = { ...entries[1]!, sigs: [sig] };
      expect(isWellFormedEntry(mutated)).toBe(false);
      expect(entrySchema.safeParse(mutated).success).toBe(false);
    }
    // The fast path remembers strings that passed (vault, device, keys, the last hash): a string
    // remembered for one field never passes for a field with another pattern.
    const e = entries[1]!;
    expect(isWellFormedEntry(e)).toBe(true);
    for (const mutated of [
      { ...e, device: e.vault },
      { ...e, vault: e.device },
      { ...e, prev: e.vault },
      { ...e, hash: e.vault },
      { ...e, sigs: [{ key: e.vault, sig: (e.sigs as { sig: string }[])[0]!.sig }] },
    ]) {
      expect(isWellFormedEntry(mutated)).toBe(false);
      expect(entrySchema.safeParse(mutated).success).toBe(false);
    }
  });
});

describe('bundle entry-record fast path', () => {
  it('an entry line with an extra field, a missing entry or a wrong kind is refused as BAD_BUNDLE; a plain one reaches the chain', () => {
    const j = new TestJournal();
    open.push(j);
    const [genesis] = [...j.entries()];
    const plain = entryLine(genesis!).trimEnd();
    const reasons = (line: string): string[] => {
      const v = new BundleVerifier();
      v.pushLine(headerLine().trimEnd());
      v.pushLine(line);
      return v
        .finish()
        .failures.filter((f) => f.code === 'BAD_BUNDLE')
        .map((f) => f.reason);
    };
    expect(reasons(plain).filter((r) => r.includes('line 2'))).toEqual([]);
    const record = JSON.parse(plain) as Record<string, unknown>;
    for (const bad of [{ ...record, extra: 1 }, { kind: 'entry' }, { ...record, kind: 'entries' }]) {
      expect(reasons(JSON.stringify(bad)).some((r) => r.startsWith('line 2 is not a bundle record'))).toBe(true);
    }
  });
});

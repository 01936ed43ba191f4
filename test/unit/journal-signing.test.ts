import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import type { JsonObject } from '../../shared/journal/canonical';
import {
  GENESIS_PREV,
  canonicalBodyText,
  entryBodyOf,
  sealEntry,
  signEntry,
  signEntryReference,
  sodiumSha256Text,
  type EntryBody,
  type EntrySigner,
  type SignedEntry,
  type UnsealedEntry,
} from '../../shared/journal/entry';
import { ChainVerifier } from '../../shared/journal/verifier';
import { nativePrimitives } from '../../server/native-primitives';
import { TestJournal, seededSigner } from '../support/journal-builder';

let sodium: Sodium;
const open: TestJournal[] = [];
beforeAll(async () => {
  sodium = await sodiumReady();
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
});

/** Journal JSON: integers, strings of any code points, nested objects and arrays. */
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 }),
  ),
})).value;
const hex = (n: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const body: fc.Arbitrary<EntryBody> = fc.record({
  v: fc.constant(1 as const),
  vault: hex(16),
  device: hex(32),
  seq: fc.maxSafeInteger().map(Math.abs),
  prev: fc.oneof(fc.constant(GENESIS_PREV), hex(32)),
  time: fc.maxSafeInteger().map(Math.abs),
  type: fc.stringMatching(/^[a-z]{1,8}(\.[a-z-]{1,8}){0,2}$/),
  actor: fc.option(fc.string({ unit: 'grapheme' }), { nil: null }),
  data: fc.dictionary(fc.string({ unit: 'binary' }), json, { maxKeys: 4 }) as fc.Arbitrary<JsonObject>,
});
const signers = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }).map((seeds) => seeds.map((s) => seededSigner(s)));

/** sealEntry as the store calls it: an entry object with every field, filled in place. */
function sealed(
  b: EntryBody,
  by: readonly EntrySigner[],
  sha256Text = nativePrimitives.sha256Text,
): { entry: SignedEntry; digest: Uint8Array } {
  const entry: UnsealedEntry = { ...entryBodyOf(b), hash: '', sigs: [] };
  const digest = sealEntry(entry, by, sha256Text);
  return { entry, digest };
}

describe('entry signing: one path (sealEntry) and the plain reference beside it', () => {
  it('sealEntry on node:crypto, on libsodium and through signEntry gives exactly the reference entry', () => {
    fc.assert(
      fc.property(body, signers, (b, by) => {
        const reference = signEntryReference(b, by, sodium);
        for (const sha256Text of [nativePrimitives.sha256Text, sodiumSha256Text(sodium)]) {
          const { entry, digest } = sealed(b, by, sha256Text);
          expect(entry).toEqual(reference);
          expect(Buffer.from(digest).toString('hex')).toBe(reference.hash);
        }
        expect(signEntry(b, by, sodium)).toEqual(reference);
        // The text the store hands over (it encoded the body already, to check its size) is the same text.
        const entry: UnsealedEntry = { ...entryBodyOf(b), hash: '', sigs: [] };
        sealEntry(entry, by, nativePrimitives.sha256Text, canonicalBodyText(b));
        expect(entry).toEqual(reference);
      }),
      { numRuns: 200 },
    );
  });

  it('node:crypto and libsodium hash any text to the same SHA-256 of its UTF-8 bytes, lone surrogates included', () => {
    const lib = sodiumSha256Text(sodium);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string({ unit: 'grapheme' }),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map((t) => t.repeat(Math.ceil(66_000 / t.length))),
        ),
        (text) => {
          expect(Buffer.from(nativePrimitives.sha256Text(text)).toString('hex')).toBe(sodium.to_hex(lib(text)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every entry the journal store writes is the reference entry for its body and signers, and verifies', () => {
    const j = new TestJournal({ checkpointEvery: 3 });
    open.push(j);
    const alice = j.enrol('alice', 2);
    const bob = j.enrol('bob', 3);
    j.store.append({
      type: 'checkout.opened',
      actor: alice,
      account: '123456789012',
      data: { half: 'password', reason: 'naïve café ✓ 𝄞' },
    });
    j.store.appendBatch([
      { type: 'checkout.closed', actor: bob, data: { half: 'mfa' } },
      { type: 'note.added', data: { text: '\u2028 line' } },
    ]);
    const rotated = seededSigner(9);
    j.store.rotateDeviceKey(rotated);
    j.store.append({ type: 'after.rotation', data: {} });
    j.store.checkpoint();
    const byKey = new Map([j.device, rotated, alice.signer, bob.signer].map((s) => [s.publicKey, s]));
    const entries = [...j.entries()];
    expect(entries.length).toBeGreaterThan(8);
    for (const e of entries) {
      const by = e.sigs.map((s) => byKey.get(s.key)!);
      expect(e).toEqual(signEntryReference(entryBodyOf(e), by, sodium));
    }
    const verifier = new ChainVerifier({ primitives: nativePrimitives });
    expect(entries.flatMap((e) => verifier.push(e))).toEqual([]);
  });

  it('a body text other than the body’s canonical one yields an entry the verifier refuses, never a silently different one', () => {
    const b: EntryBody = {
      v: 1,
      vault: 'ab'.repeat(16),
      device: seededSigner(1).publicKey,
      seq: 0,
      prev: GENESIS_PREV,
      time: 1,
      type: 'vault.genesis',
      actor: null,
      data: { deviceKey: seededSigner(1).publicKey },
    };
    const entry: UnsealedEntry = { ...entryBodyOf(b), hash: '', sigs: [] };
    sealEntry(entry, [seededSigner(1)], nativePrimitives.sha256Text, canonicalBodyText({ ...b, time: 2 }));
    expect(entry.hash).not.toBe(signEntryReference(b, [seededSigner(1)], sodium).hash);
    expect(new ChainVerifier({ primitives: nativePrimitives }).push(entry).map((f) => f.code)).toContain('HASH_MISMATCH');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize, type JsonObject } from '../../shared/journal/canonical';
import { signEntry, type SignedEntry } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { checkEntry, packChecks, storedBody, unpackChecks } from '../../server/entry-checks';
import { inlineChecker, startSignaturePool, type EntryChecker } from '../../server/signature-pool';
import { startTestServer } from '../support/server-fixture';
import { TestJournal } from '../support/journal-builder';
import { appendEntries, enrolledClient, upload } from '../support/sync-fixture';
import { seededSigner, TEST_VAULT } from '../support/journal-builder';

let sodium: Sodium;
let pool: EntryChecker;
beforeAll(async () => {
  sodium = await sodiumReady();
  pool = await startSignaturePool(3);
});
afterAll(async () => {
  await pool?.close();
});

/** n signed entries; every seventh carries a signature over other bytes, every eleventh a custodian co-signature. */
function entries(n: number): SignedEntry[] {
  const device = seededSigner(41);
  const custodian = seededSigner(42);
  return Array.from({ length: n }, (_, seq) => {
    const body = {
      v: 1 as const,
      vault: TEST_VAULT,
      device: device.publicKey,
      seq,
      prev: '0'.repeat(64),
      time: 1_700_000_000_000 + seq,
      type: 'test.event',
      actor: null,
      data: { seq },
    };
    const signed = signEntry(body, seq % 11 === 0 ? [device, custodian] : [device], sodium);
    if (seq % 7 !== 0) return signed;
    const other = signEntry({ ...body, data: { seq, forged: true } }, [device], sodium);
    return { ...signed, sigs: [other.sigs[0]!, ...signed.sigs.slice(1)] };
  });
}

describe('signature pool (worker threads)', () => {
  it('returns each entry’s hash and signature validity in order, exactly as the calling thread computes them', async () => {
    const batch = entries(150);
    const checks = await pool.check(batch);
    expect(checks).toEqual(await inlineChecker().check(batch));
    expect(checks.map((c) => ('hash' in c ? c.hash : null))).toEqual(batch.map((e) => e.hash));
    expect(checks.map((c) => ('signatures' in c ? c.signatures[0] : null))).toEqual(batch.map((e) => e.seq % 7 !== 0));
    expect(checks.filter((c) => 'signatures' in c && c.signatures.length === 2).length).toBe(Math.ceil(150 / 11));
  });

  it('names an entry that cannot be hashed and a malformed signature without failing the rest', async () => {
    const [good, bad, odd] = entries(4).slice(1);
    const unhashable = { ...bad!, data: { amount: 1.5 } };
    const malformed = { ...odd!, sigs: [{ key: 'zz', sig: 'not hex' }] };
    const checks = await pool.check([good!, unhashable, malformed]);
    expect(checks[0]).toEqual({ hash: good!.hash, signatures: [true], shallow: true, wellFormed: true, body: storedBody(good!) });
    // What is stored is the canonical JSON of the whole signed entry, cut from its canonical line.
    expect((checks[0] as { body: string }).body).toBe(canonicalize(good! as unknown as JsonObject));
    expect(checks[1]).toMatchObject({ error: expect.stringContaining('floating point') });
    // Hashed, but its signature is not the entry format's: the verifier is told to check its shape itself.
    expect(checks[2]).toEqual({ hash: odd!.hash, signatures: [false], shallow: true, wellFormed: false, body: storedBody(malformed) });
  });

  it('checks each entry’s nesting and format in the workers, so the verifier on the main thread can skip what passed', async () => {
    const [plain, other] = entries(3).slice(1);
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i++) deep = { deep };
    const tooDeep = { ...other!, data: deep };
    const extraField = { ...other!, extra: 1 };
    const checks = await pool.check([plain!, tooDeep as unknown as SignedEntry, extraField as unknown as SignedEntry]);
    expect(checks.map((c) => ('hash' in c ? [c.shallow, c.wellFormed] : c.error))).toEqual([
      [true, true],
      [false, false],
      [true, false],
    ]);
    expect(checks).toEqual(await inlineChecker().check([plain!, tooDeep as unknown as SignedEntry, extraField as unknown as SignedEntry]));
  });

  it('serves concurrent batches from many devices and refuses work once closed', async () => {
    const batches = [entries(40), entries(90), entries(5)];
    const results = await Promise.all(batches.map((b) => pool.check(b)));
    results.forEach((checks, i) => expect(checks.map((c) => ('hash' in c ? c.hash : null))).toEqual(batches[i]!.map((e) => e.hash)));
    const small = await startSignaturePool(1);
    await small.close();
    await expect(small.check(entries(1))).rejects.toThrow(/closed/);
    expect(small.heldEntries).toBe(0);
    await expect(startSignaturePool(0)).rejects.toThrow(/at least one thread/);
  });

  it('packs a chunk’s checks into one string and one byte array, and refuses an answer of the wrong shape', () => {
    const batch = entries(12);
    const checks = batch.map((e) => checkEntry(e));
    const packed = packChecks([...checks.slice(0, 3), { error: 'not canonical JSON' }, ...checks.slice(4)]);
    expect(packed.hashes).toHaveLength(12 * 64);
    expect(packed.valid).toHaveLength(batch.reduce((n, e, i) => (i === 3 ? n : n + e.sigs.length), 0));
    expect(packed.errors).toEqual([[3, 'not canonical JSON']]);
    const back = unpackChecks(batch, packed);
    expect(back[3]).toEqual({ error: 'not canonical JSON' });
    expect(back.filter((_c, i) => i !== 3)).toEqual(checks.filter((_c, i) => i !== 3));
    expect(() => unpackChecks(batch.slice(1), packed)).toThrow(/answered 12 hashes for 11 entries/);
    expect(() => unpackChecks(batch, { ...packed, valid: packed.valid.slice(1) })).toThrow(/signature checks for/);
    expect(() => unpackChecks(batch, { ...packed, flags: packed.flags.slice(1) })).toThrow(/answered 11 shape checks for 12 entries/);
    expect(() => unpackChecks(batch, { ...packed, bodies: packed.bodies.slice(1) })).toThrow(/characters of bodies/);
  });

  it('a worker killed mid-batch fails only that batch; a replacement takes over and later batches are checked', async () => {
    const own = await startSignaturePool(2);
    try {
      const [first] = own.workers;
      const batch = entries(2_000);
      const pending = own.check(batch);
      await first!.terminate();
      await expect(pending).rejects.toThrow(/signature worker stopped/);
      // The replacement starts in the background; wait until the pool has two live threads again.
      for (let i = 0; i < 200 && own.workers.includes(first!); i++) await new Promise((r) => setTimeout(r, 10));
      expect(own.workers).not.toContain(first);
      expect(own.workers).toHaveLength(2);
      const again = entries(300);
      expect(await own.check(again)).toEqual(await inlineChecker().check(again));
    } finally {
      await own.close();
    }
  });

  it('a batch a worker cannot be handed is refused 422, not 500, and the pool keeps none of it', async () => {
    const server = await startTestServer('sqlite');
    const j = new TestJournal({ deviceSeed: 45, checkpointEvery: 64 });
    try {
      appendEntries(j, 40);
      await enrolledClient(server, j);
      // A FAULT INJECTION: every worker's structured clone refuses the chunk, as it once did for
      // deeply nested entries (which the body depth check now stops before they get here).
      const posts = server.checker.workers.map((w) => {
        const post = w.postMessage.bind(w);
        w.postMessage = () => {
          throw new RangeError('Maximum call stack size exceeded');
        };
        return () => void (w.postMessage = post);
      });
      const res = await upload(server, j, [...j.store.read()]);
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({
        error: { code: 'ENTRY_INVALID', message: expect.stringMatching(/cannot be handed to a signature worker/) },
      });
      expect(server.checker.heldEntries).toBe(0);
      for (const restore of posts) restore();
      expect((await upload(server, j, [...j.store.read()])).status).toBe(200);
    } finally {
      j.close();
      await server.close();
    }
  });

  it('a worker killed under a running server costs the client one retry, not an entry', async () => {
    const server = await startTestServer('sqlite');
    const j = new TestJournal({ deviceSeed: 44, checkpointEvery: 64 });
    try {
      appendEntries(j, 1_200);
      const client = await enrolledClient(server, j, { batchSize: 500 });
      // A FAULT INJECTION on a real worker thread: it is terminated right after it is handed its
      // first chunk, so it dies holding part of the first batch.
      const victim = server.checker.workers[0]!;
      const post = victim.postMessage.bind(victim);
      victim.postMessage = (message: unknown) => {
        post(message);
        void victim.terminate();
      };
      let status = await client.syncNow();
      expect(status.state).toBe('offline');
      // The pool is unwell, not the input: 503 UNAVAILABLE (never 500), and it let go of the batch.
      expect(status.lastError).toMatch(/could not check this batch right now/);
      // The live worker finishes its chunks of the failed batches, then the pool holds nothing.
      await expect.poll(() => server.checker.heldEntries, { timeout: 5_000 }).toBe(0);
      for (let i = 0; i < 10 && status.pending > 0; i++) status = await client.syncNow();
      expect(status).toMatchObject({ pending: 0, state: 'idle', lastError: null });
      expect(server.checker.workers).not.toContain(victim);
      const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
      expect(held.map((e) => [e.seq, e.hash])).toEqual([...j.store.read()].map((e) => [e.seq, e.hash]));
    } finally {
      j.close();
      await server.close();
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signEntry, type SignedEntry } from '../../shared/journal/entry';
import { ENTRY_TYPES } from '../../shared/journal/entry-types';
import { merkleRoot } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import type { ChainState } from '../../shared/journal/verifier';
import { journalsClosedAfterEach, type TestJournal } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, upload } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const journal = journalsClosedAfterEach();

/** A signature by the right key over other bytes: well formed, and it does not verify. */
const wrongSignature = (j: TestJournal): string => sodium.to_hex(j.device.sign(sodium.from_string('not this entry')));
const withDeviceSig = (e: SignedEntry, sig: string): SignedEntry => ({ ...e, sigs: [{ key: e.sigs[0]!.key, sig }, ...e.sigs.slice(1)] });

/**
 * A journal with a custodian, an entry that custodian signed, and plain entries, ending on a
 * checkpoint (checkpoints every 8 entries in between), as the sync client uploads it.
 */
function journalWithCustodian(seed: number): { j: TestJournal; entries: SignedEntry[] } {
  const j = journal({ deviceSeed: seed, checkpointEvery: 8 });
  const alice = j.enrol('alice', seed + 100);
  appendEntries(j, 6);
  j.tick();
  j.store.append({ type: 'test.acted', actor: alice, data: { by: 'alice' } });
  appendEntries(j, 12);
  j.store.checkpointTail();
  return { j, entries: [...j.store.read()] };
}

/** Records what the server hands its signature checker: per call, how many entries and how many of them anchored. */
function spyChecks(server: TestServer): { calls: { entries: number; anchored: number }[]; restore: () => void } {
  const original = server.checker.check;
  const calls: { entries: number; anchored: number }[] = [];
  server.checker.check = (entries, anchored) => {
    calls.push({ entries: entries.length, anchored: anchored?.filter((a) => a).length ?? 0 });
    return original.call(server.checker, entries, anchored);
  };
  return { calls, restore: () => void (server.checker.check = original) };
}

const failuresOf = (body: unknown): { seq: number; code: string }[] =>
  ((body as { error: { evidence?: { failures?: { seq: number; code: string }[] } } }).error.evidence?.failures ?? []).map((f) => ({
    seq: f.seq,
    code: f.code,
  }));

describe.each<StorageKind>(['sqlite', 'postgres'])('anchored ingest: %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('verifies a batch ending on a checkpoint by that checkpoint: only checkpoints and key entries have their device signature checked', async () => {
    const { j, entries } = journalWithCustodian(11);
    await enrolledClient(server, j);
    const spy = spyChecks(server);
    try {
      const res = await upload(server, j, entries);
      expect(res.status).toBe(200);
      const alone = entries.filter((e) =>
        ([ENTRY_TYPES.genesis, ENTRY_TYPES.custodianEnrolled, ENTRY_TYPES.checkpoint] as string[]).includes(e.type),
      );
      expect(spy.calls).toEqual([{ entries: entries.length, anchored: entries.length - alone.length }]);
    } finally {
      spy.restore();
    }
    // The device's frontier moved with the head: its root is the root of everything held.
    const state = JSON.parse((await server.storage.queries.getDevice(j.device.publicKey))!.chainState!) as ChainState;
    expect(state.frontier.size).toBe(entries.length);
    // The next batch is anchored on that stored frontier.
    appendEntries(j, 9);
    j.store.checkpointTail();
    const more = [...j.store.read({ from: entries.length })];
    expect(more[more.length - 1]!.type).toBe(ENTRY_TYPES.checkpoint);
    expect(more[more.length - 1]!.data.root).toBe(
      sodium.to_hex(merkleRoot([...j.store.read()].slice(0, -1).map((e) => sodium.from_hex(e.hash)))),
    );
    expect((await upload(server, j, more)).status).toBe(200);
  });

  it('takes a corrupted device signature inside a checkpointed range (only a full check reports it), never after the last checkpoint', async () => {
    const { j, entries } = journalWithCustodian(12);
    await enrolledClient(server, j);
    const inside = entries.findIndex((e, i) => i > 3 && e.type === 'test.event');
    const sent = entries.map((e, i) => (i === inside ? withDeviceSig(e, wrongSignature(j)) : e));
    expect((await upload(server, j, sent)).status).toBe(200);
    const [held] = await server.storage.queries.entriesBySeq(j.device.publicKey, inside, inside);
    expect((JSON.parse(held!.body) as SignedEntry).sigs[0]!.sig).toBe(sent[inside]!.sigs[0]!.sig);

    // After the batch's last checkpoint nothing stands for the entry: its own signature is checked.
    appendEntries(j, 3);
    const tail = [...j.store.read({ from: entries.length })];
    const res = await upload(server, j, [tail[0]!, withDeviceSig(tail[1]!, wrongSignature(j)), tail[2]!]);
    expect(res.status).toBe(422);
    expect(failuresOf(res.body)).toEqual([{ seq: tail[1]!.seq, code: 'BAD_SIGNATURE' }]);
  });

  it('refuses a batch whose checkpoint signature is wrong, naming the checkpoint', async () => {
    const { j, entries } = journalWithCustodian(13);
    await enrolledClient(server, j);
    const last = entries.length - 1;
    const res = await upload(server, j, [...entries.slice(0, last), withDeviceSig(entries[last]!, wrongSignature(j))]);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      error: { code: 'ENTRY_INVALID', message: expect.stringContaining(`seq ${last} fails verification`) },
    });
    expect(failuresOf(res.body)).toEqual([{ seq: last, code: 'BAD_SIGNATURE' }]);
    expect((await server.storage.queries.getDevice(j.device.publicKey))!.headSeq).toBeNull();
  });

  it('refuses a checkpoint signed by the device over a wrong root', async () => {
    const { j, entries } = journalWithCustodian(14);
    await enrolledClient(server, j);
    const last = entries.length - 1;
    const cp = entries[last]!;
    const wrongRoot = signEntry({ ...cp, data: { ...cp.data, root: 'ab'.repeat(32) } }, [j.device], sodium);
    const res = await upload(server, j, [...entries.slice(0, last), wrongRoot]);
    expect(res.status).toBe(422);
    expect(failuresOf(res.body)).toEqual([{ seq: last, code: 'CHECKPOINT_ROOT_MISMATCH' }]);
  });

  it('catches a forged entry under a valid-looking checkpoint by the root, then names the forged seq from a full check', async () => {
    const { j, entries } = journalWithCustodian(15);
    await enrolledClient(server, j);
    const last = entries.length - 1;
    const forged = entries.findIndex((e, i) => i > 3 && e.type === 'test.event');
    // The forger changes one entry and links every later one to it again, keeping their old
    // signatures (it cannot make new ones), then has the device sign a checkpoint that carries
    // the root the device signed before: everything hashes and links, only the root disagrees.
    const sent: SignedEntry[] = entries.slice(0, forged);
    for (let i = forged; i < last; i++) {
      const e = entries[i]!;
      const body = { ...e, prev: sent[i - 1]!.hash, data: i === forged ? { n: 'forged' } : e.data };
      sent.push({ ...signEntry(body, [], sodium), sigs: e.sigs });
    }
    sent.push(signEntry({ ...entries[last]!, prev: sent[last - 1]!.hash }, [j.device], sodium));
    const spy = spyChecks(server);
    try {
      const res = await upload(server, j, sent);
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ error: { message: expect.stringContaining(`seq ${forged} fails verification`) } });
      expect(failuresOf(res.body)).toEqual([{ seq: forged, code: 'BAD_SIGNATURE' }]);
      // First the anchored check (the root failed), then every signature.
      expect(spy.calls.map((c) => c.anchored > 0)).toEqual([true, false]);
    } finally {
      spy.restore();
    }
  });

  it('checks key-introducing entries and every custodian signature in full inside a checkpointed range', async () => {
    const { j, entries } = journalWithCustodian(16);
    await enrolledClient(server, j);
    const enrolled = entries.findIndex((e) => e.type === ENTRY_TYPES.custodianEnrolled);
    let res = await upload(
      server,
      j,
      entries.map((e, i) => (i === enrolled ? withDeviceSig(e, wrongSignature(j)) : e)),
    );
    expect(res.status).toBe(422);
    expect(failuresOf(res.body)).toEqual([{ seq: enrolled, code: 'BAD_SIGNATURE' }]);

    const acted = entries.findIndex((e) => e.type === 'test.acted');
    const badCustodian = { ...entries[acted]!, sigs: [entries[acted]!.sigs[0]!, { ...entries[acted]!.sigs[1]!, sig: wrongSignature(j) }] };
    res = await upload(
      server,
      j,
      entries.map((e, i) => (i === acted ? badCustodian : e)),
    );
    expect(res.status).toBe(422);
    expect(failuresOf(res.body)).toContainEqual({ seq: acted, code: 'BAD_SIGNATURE' });
    expect((await server.storage.queries.getDevice(j.device.publicKey))!.headSeq).toBeNull();
    expect((await upload(server, j, entries)).status).toBe(200);
  });
});

describe('the sync client ends every batch on a checkpoint', () => {
  it('has the journal write one before an upload when the tail has none, and cuts each batch at its last checkpoint', async () => {
    const server = await startTestServer('sqlite');
    try {
      const j = journal({ deviceSeed: 18, checkpointEvery: 8 });
      appendEntries(j, 45);
      const client = await enrolledClient(server, j, { batchSize: 20 });
      const lastTypes: string[] = [];
      const original = server.checker.check;
      server.checker.check = (entries, anchored) => {
        lastTypes.push(entries[entries.length - 1]!.type);
        return original.call(server.checker, entries, anchored);
      };
      expect(await client.syncNow()).toMatchObject({ state: 'idle', pending: 0 });
      expect(j.store.head()!.seq).toBe([...j.store.read()].length - 1);
      expect([...j.store.read()].pop()!.type).toBe(ENTRY_TYPES.checkpoint);
      expect(lastTypes.length).toBeGreaterThan(2);
      expect(new Set(lastTypes)).toEqual(new Set([ENTRY_TYPES.checkpoint]));
      // Nothing new: no checkpoint is written for an upload that sends nothing.
      const before = j.store.head()!.seq;
      expect(await client.syncNow()).toMatchObject({ state: 'idle', pending: 0 });
      expect(j.store.head()!.seq).toBe(before);
    } finally {
      await server.close();
    }
  });
});

describe('anchored ingest on PostgreSQL with two server processes', () => {
  it('keeps one frontier per device when its batches land on both processes at once', async () => {
    const a = await startTestServer('postgres');
    const b = await startTestServer('postgres', { beside: a });
    try {
      const j = journal({ deviceSeed: 17, checkpointEvery: 8 });
      await enrolledClient(a, j);
      // Batches ending on checkpoints, sent two at a time to the two processes (the later one may
      // find a gap and is sent again), until every entry is held.
      for (let round = 0; round < 6; round++) {
        appendEntries(j, 20);
        j.store.checkpointTail();
        const headSeq = (await a.storage.queries.getDevice(j.device.publicKey))!.headSeq ?? -1;
        const all = [...j.store.read({ from: headSeq + 1 })];
        const cut = all.findIndex((e, i) => i > 5 && e.type === ENTRY_TYPES.checkpoint) + 1;
        const [first, second] = [all.slice(0, cut), all.slice(cut)];
        const answers = await Promise.all([upload(a, j, first), upload(b, j, second)]);
        expect(answers[0]!.status).toBe(200);
        if (answers[1]!.status !== 200) {
          expect(answers[1]!.body).toMatchObject({ error: { code: 'SEQUENCE_GAP' } });
          expect((await upload(round % 2 === 0 ? a : b, j, second)).status).toBe(200);
        }
      }
      const device = (await b.storage.queries.getDevice(j.device.publicKey))!;
      const all = [...j.store.read()];
      expect(device.headSeq).toBe(all[all.length - 1]!.seq);
      const state = JSON.parse(device.chainState!) as ChainState;
      expect(state.frontier.size).toBe(all.length);
      const held = await a.storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
      expect(held.map((e) => e.hash)).toEqual(all.map((e) => e.hash));
    } finally {
      await b.close();
      await a.close();
    }
  });
});

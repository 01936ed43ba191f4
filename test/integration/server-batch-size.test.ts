import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LEGACY_MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES } from '../../shared/sync/wire';
import { FaultProxy } from '../support/fault-proxy';
import { journalsClosedAfterEach, type TestJournal } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { enrolledClient } from '../support/sync-fixture';
import type { SyncClient } from '../../electron/sync/client';

/**
 * Batches are capped by serialized bytes as well as by entries, and a server whose body limit
 * is lower than the client's budget answers 413: the client halves the batch until it fits
 * (docs/sync-protocol.md, "The client").
 */

const journal = journalsClosedAfterEach();

/** Appends n entries of about `bytes` of data each. */
function appendLarge(j: TestJournal, n: number, bytes: number): void {
  for (let i = 0; i < n; i++) {
    j.tick();
    j.store.append({ type: 'test.event', data: { n: i, note: 'x'.repeat(bytes) } });
  }
}

/**
 * A loopback HTTP proxy in front of a real server that records how many entries each upload
 * carried. With `legacy`, it stands in for a server of an earlier version, which took at most
 * LEGACY_MAX_BATCH_ENTRIES entries a batch: it answers a larger one as that server's schema did
 * (400 BAD_REQUEST) and passes everything else through.
 */
async function countingProxy(
  upstream: string,
  legacy: boolean,
): Promise<{ url: string; uploads: number[]; firstSeqs: number[]; refused: number; close(): Promise<void> }> {
  const state = { uploads: [] as number[], firstSeqs: [] as number[], refused: 0 };
  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        if (req.method === 'POST' && req.url?.includes('/entries')) {
          const { entries } = JSON.parse(body.toString('utf8')) as { entries: { seq: number }[] };
          const count = entries.length;
          if (legacy && count > LEGACY_MAX_BATCH_ENTRIES) {
            state.refused += 1;
            const error = {
              code: 'BAD_REQUEST',
              message: `body.entries: Too big: expected array to have <=${LEGACY_MAX_BATCH_ENTRIES} items`,
            };
            res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
            return;
          }
          state.uploads.push(count);
          state.firstSeqs.push(entries[0]?.seq ?? -1);
        }
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => k.startsWith('x-halfkey') || k === 'content-type'),
        ) as Record<string, string>;
        const answer = await fetch(`${upstream}${req.url}`, { method: req.method, headers, ...(body.length > 0 ? { body } : {}) });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(await answer.text());
      })();
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    get uploads() {
      return state.uploads;
    },
    get firstSeqs() {
      return state.firstSeqs;
    },
    get refused() {
      return state.refused;
    },
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}

/** Runs `body` with a server, a counting proxy in front of it and a client enrolled through the proxy; closes both after. */
async function throughProxy(
  kind: StorageKind,
  legacy: boolean,
  j: TestJournal,
  body: (client: SyncClient, proxy: Awaited<ReturnType<typeof countingProxy>>, server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startTestServer(kind);
  const proxy = await countingProxy(server.url, legacy);
  try {
    await body(await enrolledClient({ ...server, url: proxy.url }, j), proxy, server);
    // Whatever the batches were, the server holds exactly this journal.
    const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
    expect(held.map((e) => e.hash)).toEqual([...j.store.read()].map((e) => e.hash));
  } finally {
    await proxy.close();
    await server.close();
  }
}

const synced = { state: 'idle', pending: 0, lastError: null };

describe.each<StorageKind>(['sqlite', 'postgres'])('batch size by entries: %s', (kind) => {
  it(`a backlog of small entries goes up in batches of up to ${MAX_BATCH_ENTRIES} entries, each ending on a checkpoint`, async () => {
    const j = journal({ deviceSeed: 84, checkpointEvery: 256 });
    appendLarge(j, 5_000, 10);
    await throughProxy(kind, false, j, async (client, proxy, server) => {
      expect(await client.syncNow()).toMatchObject(synced);
      // 5,000 entries and their checkpoints: two batches, the first cut after its last checkpoint.
      // Both are on the wire at once: the proxy may finish reading the smaller one first, which the
      // server then answers SEQUENCE_GAP and the client sends again (electron/sync/client.ts), so
      // batches are told apart by their first seq, not by the order they reached the proxy.
      const batches = new Map<number, number>();
      proxy.firstSeqs.forEach((first, i) => batches.set(first, proxy.uploads[i]!));
      expect(batches.size).toBe(2);
      const [[first, count], [second]] = [...batches].sort((a, b) => a[0] - b[0]) as [number, number][];
      expect(count).toBeGreaterThan(MAX_BATCH_ENTRIES - 256);
      expect(count).toBeLessThanOrEqual(MAX_BATCH_ENTRIES);
      expect(second).toBe(first! + count!);
      const [last] = await server.storage.queries.entriesBySeq(j.device.publicKey, first! + count! - 1, first! + count! - 1);
      expect(last!.type).toBe('checkpoint');
    });
  }, 120_000);

  it(`a server of an earlier version refuses more than ${LEGACY_MAX_BATCH_ENTRIES} entries as a malformed body: the client sends it batches of that size`, async () => {
    const j = journal({ deviceSeed: 85, checkpointEvery: 256 });
    appendLarge(j, 1_200, 10);
    await throughProxy(kind, true, j, async (client, proxy) => {
      expect(await client.syncNow()).toMatchObject(synced);
      expect(proxy.refused).toBe(1);
      expect(proxy.uploads.length).toBeGreaterThan(2);
      expect(Math.max(...proxy.uploads)).toBeLessThanOrEqual(LEGACY_MAX_BATCH_ENTRIES);
      // Later rounds remember the limit: no second refusal.
      appendLarge(j, 700, 10);
      expect(await client.syncNow()).toMatchObject(synced);
      expect(proxy.refused).toBe(1);
    });
  }, 120_000);
});

describe.each<StorageKind>(['sqlite', 'postgres'])('batch size by bytes: %s', (kind) => {
  it('500+ entries of 10 KiB (more than the default 4 MiB body in 500 entries) sync to nothing pending, never sending a body the server refuses', async () => {
    const server = await startTestServer(kind);
    // A pass-through proxy that keeps every answer's status line.
    const proxy = new FaultProxy(Number(new URL(server.url).port));
    try {
      const j = journal({ deviceSeed: 81, checkpointEvery: 256 });
      appendLarge(j, 520, 10 * 1024);
      const client = await enrolledClient({ ...server, url: await proxy.listen() }, j);
      expect(await client.syncNow()).toMatchObject({ state: 'idle', pending: 0, lastError: null });
      expect(proxy.statuses.filter((line) => line.startsWith('HTTP/1.1 413'))).toEqual([]);
      expect(proxy.statuses.length).toBeGreaterThan(2);
      const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
      expect(held.map((e) => e.hash)).toEqual([...j.store.read()].map((e) => e.hash));
    } finally {
      await proxy.close();
      await server.close();
    }
  }, 120_000);

  it('a server with a smaller body limit answers 413: the client halves the batch until it fits', async () => {
    const server = await startTestServer(kind, { maxBatchBytes: 200 * 1024 });
    try {
      const j = journal({ deviceSeed: 82, checkpointEvery: 256 });
      appendLarge(j, 80, 10 * 1024);
      const client = await enrolledClient(server, j);
      expect(await client.syncNow()).toMatchObject({ state: 'idle', pending: 0, lastError: null });
      const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
      expect(held.map((e) => e.hash)).toEqual([...j.store.read()].map((e) => e.hash));
    } finally {
      await server.close();
    }
  }, 60_000);

  it('one entry larger than the server accepts alone is a permanent error naming its seq; the entries before it are uploaded', async () => {
    const server = await startTestServer(kind, { maxBatchBytes: 8 * 1024 });
    try {
      const j = journal({ deviceSeed: 83, checkpointEvery: 256 });
      appendLarge(j, 3, 100);
      appendLarge(j, 1, 12 * 1024);
      const big = j.store.head()!.seq;
      const client = await enrolledClient(server, j);
      const status = await client.syncNow();
      // Pending: the big entry and the checkpoint the client had the journal write after it before uploading.
      expect(status).toMatchObject({ state: 'error', ackedSeq: big - 1, pending: 2 });
      expect(status.lastError).toMatch(
        new RegExp(`journal entry #${big} alone \\(\\d+ bytes\\) is larger than the server accepts in one upload`),
      );
    } finally {
      await server.close();
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { FaultProxy } from '../support/fault-proxy';
import { journalsClosedAfterEach, type TestJournal } from '../support/journal-builder';
import { startTestServer, type StorageKind } from '../support/server-fixture';
import { enrolledClient } from '../support/sync-fixture';

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

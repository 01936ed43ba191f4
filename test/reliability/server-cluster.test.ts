import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyConsistency } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { treeHeadProblem, verifyReceipt, type TreeHead } from '../../shared/sync/receipt';
import { SyncClient } from '../../electron/sync/client';
import { expectOk, sendRequest } from '../../electron/sync/transport';
import { loadOrCreateServerKey } from '../../server/server-key';
import { openStorage, type Storage } from '../../server/storage/storage';
import { hashToken, newToken } from '../../server/tokens';
import { TestJournal } from '../support/journal-builder';
import { RoundRobinBalancer } from '../support/load-balancer';
import { freshStorageUrl } from '../support/server-fixture';
import { ServerProcess, freePort } from '../support/server-process';
import { appendEntries } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

/**
 * docs/operations.md, "Several stateless processes on PostgreSQL": two real `halfkey server`
 * processes share one database and one key file behind a load balancer that alternates requests.
 * (SQLite is one node by design, so this runs on PostgreSQL only.)
 */
describe('two `halfkey server` processes on one PostgreSQL database behind a round-robin balancer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-cluster-'));
  const keyFile = join(dir, 'server.key');
  const processes: ServerProcess[] = [];
  const urls: string[] = [];
  let balancer: RoundRobinBalancer;
  let balancerUrl: string;
  let storage: Storage;
  let cleanup: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    const fresh = await freshStorageUrl('postgres');
    cleanup = fresh.cleanup;
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const server = new ServerProcess({ db: fresh.url, port, keyFile });
      // Both load the one key file, as docs/operations.md requires of every process.
      await server.start();
      processes.push(server);
      urls.push(`http://127.0.0.1:${port}`);
    }
    storage = await openStorage(fresh.url);
    balancer = new RoundRobinBalancer(urls);
    balancerUrl = await balancer.listen();
  }, 90_000);
  afterAll(async () => {
    await balancer?.close();
    for (const p of processes) await p.stop();
    await storage?.close();
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one device’s batches alternate between them (one overtaking the other): the log holds exactly its entries, and both serve one consistent log', async () => {
    const serverKey = sodium.to_hex(sodium.crypto_sign_ed25519_sk_to_pk(loadOrCreateServerKey(keyFile, sodium)));
    const j = new TestJournal({ deviceSeed: 131, checkpointEvery: 16 });
    try {
      const token = newToken(sodium);
      await storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + 60_000);
      const client = new SyncClient({
        db: j.db,
        journal: j.store,
        signer: j.device,
        batchSize: 20,
        pipelineDepth: 2,
        requestTimeoutMs: 10_000,
        backoff: { baseMs: 10, maxMs: 50 },
      });
      expect((await client.enroll(balancerUrl, token)).serverFingerprint).not.toBeNull();
      // The tree heads each process served along the way.
      const served: { process: number; head: TreeHead }[] = [];
      const readHeads = async (): Promise<void> => {
        for (const [process, url] of urls.entries())
          served.push({ process, head: expectOk(await sendRequest(url, { method: 'GET', path: '/v1/log/head' })) as TreeHead });
      };
      const ingests = () => balancer.forwarded.filter((f) => f.method === 'POST' && f.path.includes('/entries'));

      // Plain alternation: batch k to one process, k+1 (on the wire at the same time) to the other.
      appendEntries(j, 100);
      expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
      await readHeads();

      // The first batch of the round is held at the balancer: the next, sent ahead to the other
      // process, arrives first and is refused there with SEQUENCE_GAP (no process orders batches
      // across processes); the client resends it once its predecessor is accepted.
      appendEntries(j, 100);
      const before = ingests().length;
      balancer.hold(400);
      expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
      const round = ingests().slice(before);
      const gaps = round.filter((f) => f.status === 409 && f.code === 'SEQUENCE_GAP');
      expect(gaps.length).toBeGreaterThan(0);
      expect(round.filter((f) => f.status !== 200 && f.code !== 'SEQUENCE_GAP')).toEqual([]);
      await readHeads();

      // A batch from beyond the head sent straight to either process: refused, nothing stored.
      appendEntries(j, 10);
      const acked = client.status().ackedSeq!;
      const ahead = [...j.store.read({ from: acked + 4 })];
      for (const url of urls) {
        const answer = await sendRequest(url, {
          method: 'POST',
          path: `/v1/devices/${j.device.publicKey}/entries`,
          json: { entries: ahead },
          signer: j.device,
        });
        expect(answer.status).toBe(409);
        expect(answer.body).toMatchObject({ error: { code: 'SEQUENCE_GAP', evidence: { expected: acked + 1 } } });
      }
      expect((await storage.queries.getDevice(j.device.publicKey))!.headSeq).toBe(acked);
      expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
      await readHeads();

      // Both processes took part in ingesting.
      expect(
        new Set(
          ingests()
            .filter((f) => f.status === 200)
            .map((f) => f.upstream),
        ),
      ).toEqual(new Set([0, 1]));

      // Exactly the client's entries, once each, at consecutive log positions under one head.
      const local = [...j.store.read()];
      const total = local.length;
      const held = await storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000);
      expect(held.map((e) => [e.seq, e.hash])).toEqual(local.map((e) => [e.seq, e.hash]));
      const log = await storage.queries.entriesByLogIndex(0, 10_000);
      expect(log.map((e) => e.logIndex)).toEqual(local.map((_, i) => i));
      expect(log.map((e) => e.hash)).toEqual(local.map((e) => e.hash));
      const receipts = [...j.store.receipts()];
      expect(receipts.map((r) => r.seq)).toEqual(local.map((e) => e.seq));
      for (const r of receipts) {
        expect(
          verifyReceipt(
            {
              device: r.device,
              seq: r.seq,
              entryHash: r.entryHash,
              logIndex: r.logIndex,
              treeHead: r.treeHead,
              inclusionProof: r.inclusionProof,
            },
            serverKey,
            sodium,
          ),
        ).toBe(true);
      }

      // One log: both processes end at the same signed head, and every head either of them
      // served (to the client in a receipt, or to anyone asking) is proven a prefix of it by
      // the other process.
      const finals = served.slice(-2).map((s) => s.head);
      expect(finals[0]).toEqual(finals[1]);
      const final = finals[0]!;
      expect(final.size).toBe(total);
      const heads = new Map<number, { head: TreeHead; by: number }>();
      receipts.forEach((r, i) => {
        const head = r.treeHead as unknown as TreeHead;
        heads.set(head.size, { head, by: i % 2 });
      });
      for (const s of served) heads.set(s.head.size, { head: s.head, by: s.process });
      expect(heads.size).toBeGreaterThan(5);
      for (const { head, by } of heads.values()) {
        expect(treeHeadProblem(head, serverKey, sodium)).toBeNull();
        const prover = urls[1 - by]!;
        const answer = expectOk(
          await sendRequest(prover, { method: 'GET', path: `/v1/log/consistency?from=${head.size}&to=${final.size}` }),
        ) as { from: TreeHead; to: TreeHead; proof: string[] };
        expect(answer.from).toEqual(head);
        expect(answer.to).toEqual(final);
        const proof = answer.proof.map((p) => sodium.from_hex(p));
        expect(verifyConsistency(head.size, final.size, sodium.from_hex(head.root), sodium.from_hex(final.root), proof, sodium)).toBe(true);
      }
      // Between two heads served by different processes, too (the first from each round).
      const [a, b] = [served.find((s) => s.process === 0)!.head, served.filter((s) => s.process === 1).at(-2)!.head];
      const [small, big] = a.size <= b.size ? [a, b] : [b, a];
      const between = expectOk(
        await sendRequest(urls[0]!, { method: 'GET', path: `/v1/log/consistency?from=${small.size}&to=${big.size}` }),
      ) as { proof: string[] };
      expect(
        verifyConsistency(
          small.size,
          big.size,
          sodium.from_hex(small.root),
          sodium.from_hex(big.root),
          between.proof.map((p) => sodium.from_hex(p)),
          sodium,
        ),
      ).toBe(true);
    } finally {
      j.close();
    }
  }, 120_000);
});

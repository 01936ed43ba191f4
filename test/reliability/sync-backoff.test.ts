import { afterEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../electron/sync/client';
import { sendRequest } from '../../electron/sync/transport';
import { FaultProxy } from '../support/fault-proxy';
import { TestJournal } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, issueToken } from '../support/sync-fixture';

/**
 * The client's back-off (docs/sync-protocol.md, "The client"): after the n-th failure in a row
 * it waits base·2^(n−1), capped at the maximum, times a random factor in [½, 1]; a refusal that
 * will not clear by itself waits the maximum (times the factor). Driven through the real
 * background loop against a real server; the random factors are chosen so every delay is
 * known exactly, and the clock the client reads is frozen so that its status shows each delay.
 */
const BASE = 40;
const MAX = 400;
/** The factor's random input for each failure in turn: both ends of [0, 1) and points between. */
const JITTER = [0, 0.999_999, 0.5, 0, 0.999, 0.25, 0, 0.75, 0.5, 0.1];

const delayFor = (failures: number, r: number, permanent = false): number =>
  Math.round((permanent ? MAX : Math.min(MAX, BASE * 2 ** (failures - 1))) * (0.5 + r / 2));

/**
 * A client whose back-off is observed through its status: at each failure (when it draws its
 * random factor) the status still shows the attempt the previous failure scheduled.
 */
function observedClient(j: TestJournal, serverUrl: string, frozenAt: number) {
  const failures: { readonly at: number; readonly scheduledBefore: number | null; readonly r: number }[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  // The random source reads the client's status, so it refers to the client it is given to.
  const client: SyncClient = new SyncClient({
    db: j.db,
    journal: j.store,
    signer: j.device,
    requestTimeoutMs: 2_000,
    intervalMs: 20,
    backoff: { baseMs: BASE, maxMs: MAX },
    now: () => frozenAt,
    random: () => {
      const r = JITTER[failures.length % JITTER.length]!;
      failures.push({ at: Date.now(), scheduledBefore: client.status().nextAttemptAt, r });
      for (const w of waiters.filter((w) => failures.length >= w.n)) w.resolve();
      return r;
    },
  });
  /** Resolves once the client has failed n times in all. */
  const failed = (n: number): Promise<void> =>
    failures.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }));
  /** The delay the i-th failure (0-based) scheduled, as the status showed it. */
  const delay = (i: number): number => failures[i + 1]!.scheduledBefore! - frozenAt;
  return { client, failures, failed, delay, serverUrl };
}

const opened: { close: () => Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

describe('sync back-off while the server is unreachable', () => {
  it('doubles from the base up to the cap, jittered within [½, 1] of it, waits that long for real, and starts over after a success', async () => {
    const server = await startTestServer('sqlite');
    opened.push(server);
    const proxy = new FaultProxy(Number(new URL(server.url).port));
    const proxyUrl = await proxy.listen();
    opened.push(proxy);
    const j = new TestJournal({ deviceSeed: 181 });
    opened.push(j);
    const frozenAt = Date.now();
    const o = observedClient(j, proxyUrl, frozenAt);
    opened.push({ close: () => o.client.stop() });
    await o.client.enroll(proxyUrl, await issueToken(server));
    appendEntries(j, 5);
    await proxy.set('refuse');
    o.client.start();
    await o.failed(9);
    expect(o.client.status()).toMatchObject({ state: 'offline', lastError: expect.stringMatching(/unreachable/) });

    const delays = Array.from({ length: 8 }, (_, i) => o.delay(i));
    // 40·½, 80·~1, 160·¾, 320·½, then capped at 400: 400·~1, 400·⅝, 400·½, 400·⅞.
    expect(delays).toEqual([20, 80, 120, 160, 400, 250, 200, 350]);
    expect(delays).toEqual(o.failures.slice(0, 8).map((f, i) => delayFor(i + 1, f.r)));
    o.failures.slice(0, 8).forEach((_, i) => {
      const ceiling = Math.min(MAX, BASE * 2 ** i);
      expect(delays[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays[i]).toBeLessThanOrEqual(ceiling);
      // The next attempt really waited (timers may fire a millisecond early).
      expect(o.failures[i + 1]!.at - o.failures[i]!.at).toBeGreaterThanOrEqual(delays[i]! - 2);
    });

    // The server comes back: the loop catches up by itself, and the count of failures starts over.
    await proxy.set('pass');
    const deadline = Date.now() + 10_000;
    while (o.client.status().pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(o.client.status()).toMatchObject({ state: 'idle', pending: 0, lastError: null });
    const before = o.failures.length;
    await proxy.set('refuse');
    appendEntries(j, 1);
    await o.failed(before + 2);
    expect(o.delay(before)).toBe(delayFor(1, o.failures[before]!.r));
    expect(o.delay(before)).toBeLessThanOrEqual(BASE);
  }, 30_000);
});

describe.each<StorageKind>(['sqlite', 'postgres'])('sync back-off against a real server that refuses: %s', (kind) => {
  it('backs off exponentially while rate limited (offline), and waits the maximum once the device is revoked (error)', async () => {
    // One request per device (and per address) and next to no refill: the device's budget is
    // spent before the loop starts, so every upload is refused RATE_LIMITED.
    const server: TestServer = await startTestServer(kind, { rateLimit: { capacity: 1, perSecond: 0.0001 } });
    opened.push(server);
    const j = new TestJournal({ deviceSeed: 182 });
    opened.push(j);
    const frozenAt = Date.now();
    const o = observedClient(j, server.url, frozenAt);
    opened.push({ close: () => o.client.stop() });
    await o.client.enroll(server.url, await issueToken(server));
    expect(
      (await sendRequest(server.url, { method: 'GET', path: `/v1/devices/${j.device.publicKey}/head`, signer: j.device })).status,
    ).toBe(200);
    appendEntries(j, 3);
    o.client.start();
    await o.failed(2);
    expect(o.client.status()).toMatchObject({ state: 'offline', lastError: expect.stringMatching(/too many requests/), ackedSeq: null });
    // Revoked while the client waits: the third failure is a refusal that will not clear by itself.
    await server.storage.queries.revokeDevice(j.device.publicKey, Date.now());
    await o.failed(5);
    expect(o.client.status()).toMatchObject({ state: 'error', lastError: expect.stringMatching(/revoked/) });
    // 40·½ and 80·~1 while rate limited; then 400·¾ and 400·½ (not 160·¾ and 320·½).
    expect(Array.from({ length: 4 }, (_, i) => o.delay(i))).toEqual([20, 80, 300, 200]);
    expect(o.delay(2)).toBe(delayFor(3, o.failures[2]!.r, true));
  }, 30_000);
});

import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { run } from '../../server/cli';
import { startServer } from '../../server/main';
import type { NotificationEvent } from '../../server/notify/event';
import { WEBHOOK_SCHEMA, WebhookDispatcher, WebhookOutbox, type DispatcherOptions, type WebhookBody } from '../../server/notify/webhooks';
import { createServerKey } from '../../server/server-key';
import { openStorage, type Storage, type WebhookDelivery } from '../../server/storage/storage';
import { freshStorageUrl, type StorageKind } from '../support/server-fixture';

/** One request a receiver got: the raw body bytes as they arrived, and the headers. */
interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A real HTTP receiver on loopback; `answer` decides each response (it may never answer). */
class Receiver {
  readonly got: Received[] = [];
  answer: (res: ServerResponse, request: Received) => void = (res) => res.writeHead(200).end('ok');
  private server: Server | undefined;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const request = { headers: req.headers, body: Buffer.concat(chunks) };
        this.got.push(request);
        this.answer(res, request);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/halfkey`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  deliveryIds(): string[] {
    return this.got.map((r) => String(r.headers['x-halfkey-delivery']));
  }
}

const SECRET = 'receiver-shared-secret-0123456789';

function event(n: number, text = `break-glass session ${n} opened on device abcd1234`): NotificationEvent {
  return {
    kind: 'incident.opened',
    subject: n.toString(16).padStart(64, '0'),
    device: 'ab'.repeat(32),
    at: 1_700_000_000_000 + n,
    text,
    detail: { reference: `INC-${n}`, severity: 'high', seq: n, breakGlass: true },
  };
}

const hmac = (secret: string, body: Buffer): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each<StorageKind>(['sqlite', 'postgres'])('webhooks: %s', (kind) => {
  let storage: Storage;
  let dbUrl: string;
  let cleanup: () => Promise<void>;
  let receiver: Receiver;
  /** The outbox's and the dispatcher's clock: tests move it past a retry's back-off instead of sleeping. */
  let clock = Date.now();
  const outbox = new WebhookOutbox(() => clock);
  const dispatchers: WebhookDispatcher[] = [];
  const dispatcher = (options: DispatcherOptions = {}, on = storage): WebhookDispatcher => {
    const d = new WebhookDispatcher(on, {
      timeoutMs: 1_000,
      baseDelayMs: 1_000,
      maxDelayMs: 8_000,
      maxAttempts: 4,
      now: () => clock,
      ...options,
    });
    dispatchers.push(d);
    return d;
  };
  const enqueue = (...events: NotificationEvent[]): Promise<void> =>
    storage.transaction(async (tx) => {
      for (const e of events) await outbox.enqueue(tx, e);
    });
  const log = (): Promise<WebhookDelivery[]> => storage.queries.listWebhookDeliveries(null, 1000);
  const addHook = (url: string, secret = SECRET): Promise<number> =>
    storage.queries.insertWebhook({ name: 'test receiver', url, secret, createdAt: Date.now() });

  beforeEach(async () => {
    const fresh = await freshStorageUrl(kind);
    dbUrl = fresh.url;
    cleanup = fresh.cleanup;
    storage = await openStorage(dbUrl);
    receiver = await new Receiver().start();
    clock = Date.now();
  });
  afterEach(async () => {
    await Promise.all(dispatchers.splice(0).map((d) => d.stop()));
    await receiver?.stop();
    await storage?.close();
    await cleanup?.();
  });

  it('delivers an event once, signed over the exact body bytes, in the documented schema, with Slack-escaped text', async () => {
    const id = await addHook(receiver.url);
    await enqueue(event(1, 'reason: <!channel> see <https://evil.example|the fix> & more'));
    expect(receiver.got).toHaveLength(0); // nothing is sent inside the transaction
    expect(await dispatcher().runOnce()).toBe(1);
    expect(receiver.got).toHaveLength(1);
    const [request] = receiver.got;
    expect(request!.headers['x-halfkey-signature']).toBe(hmac(SECRET, request!.body));
    expect(request!.headers['x-halfkey-signature']).not.toBe(hmac('another secret', request!.body));
    expect(request!.headers['x-halfkey-event']).toBe('incident.opened');
    expect(request!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request!.body.toString('utf8')) as WebhookBody;
    expect(body).toEqual({
      schema: WEBHOOK_SCHEMA,
      delivery: request!.headers['x-halfkey-delivery'],
      event: 'incident.opened',
      subject: event(1).subject,
      device: 'ab'.repeat(32),
      at: 1_700_000_000_001,
      time: new Date(1_700_000_000_001).toISOString(),
      summary: 'reason: <!channel> see <https://evil.example|the fix> & more',
      detail: { reference: 'INC-1', severity: 'high', seq: 1, breakGlass: true },
      text: '[Halfkey] incident opened: reason: &lt;!channel&gt; see &lt;https://evil.example|the fix&gt; &amp; more',
    });
    const [entry] = await log();
    expect(entry).toMatchObject({ id: body.delivery, webhookId: id, status: 'delivered', attempts: 1, lastStatus: 200, lastError: null });
    // Delivered means done: later passes send nothing.
    expect(await dispatcher().runOnce()).toBe(0);
    expect(receiver.got).toHaveLength(1);
  });

  it('stores nothing for a rolled-back transaction, and one delivery per active webhook', async () => {
    await addHook(receiver.url);
    const removed = await addHook(receiver.url);
    await addHook(`${receiver.url}/second`);
    expect(await storage.transaction((tx) => tx.disableWebhook(removed, Date.now()))).toBe(true);
    await expect(
      storage.transaction(async (tx) => {
        await outbox.enqueue(tx, event(2));
        throw new Error('the incident was rolled back');
      }),
    ).rejects.toThrow(/rolled back/);
    expect(await log()).toEqual([]);
    await enqueue(event(3));
    expect((await log()).map((d) => d.webhookId).sort()).toEqual([1, 3]);
    await dispatcher().runOnce();
    expect(new Set(receiver.deliveryIds()).size).toBe(2);
  });

  it('a receiver that is down and comes back gets every event, once each; a retry carries the same delivery id and bytes', async () => {
    const port = receiver.port;
    await receiver.stop();
    await addHook(`http://127.0.0.1:${port}/hooks/halfkey`);
    await enqueue(event(1), event(2), event(3));
    const d = dispatcher();
    expect(await d.runOnce()).toBe(3);
    for (const entry of await log()) {
      expect(entry).toMatchObject({ status: 'pending', attempts: 1, lastStatus: null, lastError: 'the request failed (ECONNREFUSED)' });
      // Back-off: the first retry waits half to all of the base delay (1 s here).
      expect(entry.nextAttemptAt - clock).toBeGreaterThanOrEqual(500);
      expect(entry.nextAttemptAt - clock).toBeLessThanOrEqual(1_000);
    }
    expect(await d.runOnce()).toBe(0); // not due yet
    receiver = await new Receiver().start(port);
    // The first answer per delivery is lost (a 503): the next attempt repeats it exactly.
    const seen = new Set<string>();
    receiver.answer = (res, r) => {
      const id = String(r.headers['x-halfkey-delivery']);
      res.writeHead(seen.has(id) ? 204 : 503).end();
      seen.add(id);
    };
    clock += 1_000;
    expect(await d.runOnce()).toBe(3);
    clock += 2_000;
    expect(await d.runOnce()).toBe(3);
    const entries = await log();
    expect(entries.map((e) => [e.status, e.attempts, e.lastStatus])).toEqual([
      ['delivered', 3, 204],
      ['delivered', 3, 204],
      ['delivered', 3, 204],
    ]);
    expect(receiver.got).toHaveLength(6);
    const ids = receiver.deliveryIds();
    expect(new Set(ids)).toEqual(new Set(entries.map((e) => e.id)));
    for (const id of new Set(ids)) {
      const repeats = receiver.got.filter((r) => r.headers['x-halfkey-delivery'] === id);
      expect(repeats).toHaveLength(2);
      expect(repeats[1]!.body.equals(repeats[0]!.body)).toBe(true);
      expect(repeats[1]!.headers['x-halfkey-signature']).toBe(repeats[0]!.headers['x-halfkey-signature']);
    }
    clock += 60_000;
    expect(await d.runOnce()).toBe(0);
  });

  it('a receiver that hangs: the attempt times out, is recorded and retried; ingest-side enqueues are not held up meanwhile', async () => {
    await addHook(receiver.url);
    receiver.answer = () => undefined; // never answers
    await enqueue(event(1));
    const d = dispatcher({ timeoutMs: 300 });
    const pass = d.runOnce();
    await waitFor('the hanging request', () => receiver.got.length === 1);
    // An event stored while a send hangs commits at once: the network is never inside a transaction.
    const started = Date.now();
    await enqueue(event(2));
    expect(Date.now() - started).toBeLessThan(250);
    await pass;
    const hung = (await log()).find((e) => e.attempts === 1 && e.lastError !== null);
    expect(hung).toMatchObject({ status: 'pending', lastStatus: null, lastError: 'timed out after 300 ms' });
    receiver.answer = (res) => res.writeHead(200).end();
    clock += 1_000;
    await d.runOnce();
    expect((await log()).every((e) => e.status === 'delivered')).toBe(true);
    const retried = receiver.deliveryIds().filter((id) => id === hung!.id);
    expect(retried).toHaveLength(2);
  });

  it('stopping the dispatcher mid-send interrupts the send, records it, and leaves the delivery for a later start', async () => {
    await addHook(receiver.url);
    receiver.answer = () => undefined;
    await enqueue(event(1));
    const d = dispatcher({ timeoutMs: 30_000, pollMs: 10 });
    d.start();
    await waitFor('the hanging request', () => receiver.got.length === 1);
    const started = Date.now();
    await d.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await log())[0]).toMatchObject({ status: 'pending', attempts: 1, lastError: 'interrupted: the server was stopping' });
    expect(await d.runOnce()).toBe(0); // stopped for good
    receiver.answer = (res) => res.writeHead(200).end();
    clock += 1_000;
    await dispatcher().runOnce();
    expect((await log())[0]).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('500s are retried with back-off up to the limit, then the delivery is failed, all in the delivery log', async () => {
    const hook = await addHook(receiver.url);
    receiver.answer = (res) => res.writeHead(500).end('boom');
    await enqueue(event(1));
    const d = dispatcher({ maxAttempts: 3, baseDelayMs: 1_000, random: () => 1 });
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = clock;
      expect(await d.runOnce()).toBe(1);
      const [entry] = await log();
      waits.push(entry!.nextAttemptAt - before);
      clock = Math.max(clock, entry!.nextAttemptAt);
    }
    expect(waits).toEqual([1_000, 2_000, 0]); // doubling; no wait after the last
    const [entry] = await log();
    expect(entry).toMatchObject({ status: 'failed', attempts: 3, lastStatus: 500, lastError: 'HTTP 500' });
    clock += 3_600_000;
    expect(await d.runOnce()).toBe(0);
    expect(new Set(receiver.deliveryIds())).toEqual(new Set([entry!.id]));
    expect(receiver.got).toHaveLength(3);
    const out: string[] = [];
    expect(
      await run(['webhook', 'deliveries', '--db', dbUrl, '--webhook', String(hook)], {
        stdout: (t) => out.push(t),
        stderr: () => undefined,
      }),
    ).toBe(0);
    expect(out.join('')).toContain(
      `${entry!.id}  webhook ${hook}  incident.opened ${event(1).subject}  failed  attempts 3  last: HTTP 500`,
    );
  });

  it('a redirect is not followed: recorded with the origin it pointed to, and retried', async () => {
    const elsewhere = await new Receiver().start();
    try {
      await addHook(receiver.url);
      receiver.answer = (res) => res.writeHead(302, { location: `${elsewhere.url}/with/a/path?token=x` }).end();
      await enqueue(event(1));
      await dispatcher().runOnce();
      expect(elsewhere.got).toHaveLength(0);
      const [entry] = await log();
      expect(entry).toMatchObject({
        status: 'pending',
        lastStatus: 302,
        lastError: `redirected to http://127.0.0.1:${elsewhere.port}, not followed`,
      });
      receiver.answer = (res) => res.writeHead(308).end();
      clock += 1_000;
      await dispatcher().runOnce();
      expect((await log())[0]).toMatchObject({ attempts: 2, lastStatus: 308, lastError: 'redirected (HTTP 308), not followed' });
    } finally {
      await elsewhere.stop();
    }
  });

  it('two dispatchers on one database (two processes) never send a delivery twice', async () => {
    await addHook(receiver.url);
    receiver.answer = (res) => setTimeout(() => res.writeHead(200).end(), 3);
    const other = await openStorage(dbUrl);
    try {
      const a = dispatcher({ pollMs: 5, batch: 4 });
      const b = dispatcher({ pollMs: 5, batch: 4 }, other);
      outbox.onEnqueued = () => (a.kick(), b.kick());
      const events = Array.from({ length: 40 }, (_, i) => event(i + 1));
      // Two SQLite connections in one process cannot hold a transaction across awaits against
      // each other (the second blocks the thread the first needs); there, events go in first.
      if (kind === 'sqlite') await enqueue(...events.splice(0));
      a.start();
      b.start();
      // Explicit passes race too: each one's read and claim interleave with the other's.
      const passes: Promise<number>[] = [a.runOnce(), b.runOnce(), a.runOnce(), b.runOnce()];
      for (let i = 0; i < events.length; i += 4) {
        await enqueue(...events.slice(i, i + 4));
        // Both also race on explicit passes.
        passes.push(a.runOnce(), b.runOnce());
      }
      await waitFor('every delivery', async () => (await log()).every((e) => e.status === 'delivered'));
      await Promise.all(passes);
      await Promise.all([a.stop(), b.stop()]);
      const ids = receiver.deliveryIds();
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
      expect((await log()).every((e) => e.attempts === 1)).toBe(true);
    } finally {
      outbox.onEnqueued = undefined;
      await other.close();
    }
  });

  it('never logs a secret or the URL path (a Slack URL carries its secret there)', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    const logger = pino({ level: 'debug' }, sink);
    const path = '/services/T0SECRET/B0SECRET/pathSecretXYZ';
    await addHook(`http://127.0.0.1:${receiver.port}${path}`);
    let status = 500;
    receiver.answer = (res) => res.writeHead(status).end();
    await enqueue(event(1));
    const d = dispatcher({ logger });
    await d.runOnce();
    status = 200;
    clock += 1_000;
    await d.runOnce();
    const text = lines.join('');
    expect(text).toMatch(/webhook delivery failed, will retry/);
    expect(text).toMatch(/webhook delivered/);
    expect(text).toContain(`http://127.0.0.1:${receiver.port}/…`);
    for (const secret of [SECRET, 'pathSecretXYZ', 'T0SECRET', 'hooks', hmac(SECRET, receiver.got[0]!.body).slice(7)])
      expect(text).not.toContain(secret);
  });

  it('a started server sends an event enqueued in a transaction to a webhook added with the CLI, through its dispatcher', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-webhook-server-'));
    try {
      const keyFile = join(dir, 'server.key');
      createServerKey(keyFile, await sodiumReady());
      const secretFile = join(dir, 'secret');
      writeFileSync(secretFile, `${SECRET}\n`);
      const quiet = { stdout: () => undefined, stderr: () => undefined };
      expect(await run(['webhook', 'add', '--db', dbUrl, '--name', 'ops', '--url', receiver.url, '--secret-file', secretFile], quiet)).toBe(
        0,
      );
      const server = await startServer({
        db: dbUrl,
        listen: '127.0.0.1:0',
        keyFile,
        verifyThreads: 0,
        logger: false,
        webhooks: { pollMs: 100, timeoutMs: 1_000 },
      });
      try {
        await server.storage.transaction((tx) => server.notifications.enqueue(tx, event(7)), { log: true });
        await waitFor('the delivery', () => receiver.got.length === 1, 5_000);
        expect(receiver.got[0]!.headers['x-halfkey-signature']).toBe(hmac(SECRET, receiver.got[0]!.body));
        expect(JSON.parse(receiver.got[0]!.body.toString()).subject).toBe(event(7).subject);
        await waitFor('the outcome recorded', async () => (await log())[0]?.status === 'delivered', 5_000);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { TestJournal } from '../support/journal-builder';

const context = { adapter: 'test' as const };
let journal: TestJournal;
let services: AppServices;
let router: ApiRouter;

beforeAll(async () => {
  await sodiumReady();
});

async function setup(checkpointEvery = 4): Promise<void> {
  journal = new TestJournal({ checkpointEvery });
  services = await openAppServices({ mode: 'preview', vaultDir: journal.dir });
  router = createRouter(createHandlerTable(services));
}
afterEach(async () => {
  await services.close();
  journal.close();
});

describe('journal API channels', () => {
  it('answers VAULT_NOT_INITIALISED before a vault is attached and reports an empty head', async () => {
    await setup();
    expect(await router.call('journal:head', {}, context)).toEqual({ ok: true, value: { vaultId: null, seq: null, hash: null, size: 0 } });
    const verify = await router.call('journal:verify', {}, context);
    expect(verify).toMatchObject({ ok: false, error: { code: 'VAULT_NOT_INITIALISED' } });
  });

  it('serves head, paged and filtered lists, a live verification and app:status', async () => {
    await setup();
    // The store's clock and the verifier's "now" must be the same wall clock for the live check.
    journal.clock = Date.now();
    services.journal.attach(journal.store, journal.device, { heartbeat: true, heartbeatMs: 60_000 });
    const alice = journal.enrol('alice', 2);
    for (let i = 0; i < 7; i++) journal.store.append({ type: 'checkout.opened', actor: alice, account: '123456789012', data: { i } });
    const head = journal.store.head()!;
    expect(await router.call('journal:head', {}, context)).toEqual({
      ok: true,
      value: { vaultId: journal.store.vaultId(), seq: head.seq, hash: head.hash, size: head.seq + 1 },
    });
    const status = await router.call('app:status', {}, context);
    expect(status).toMatchObject({ ok: true, value: { journal: { seq: head.seq, hash: head.hash } } });

    const page1 = await router.call('journal:list', { type: 'checkout.opened', limit: 4 }, context);
    if (!page1.ok) throw new Error(page1.error.message);
    const v1 = page1.value as { entries: { seq: number; data: { i: number } }[]; nextAfter: number | null };
    expect(v1.entries.map((e) => e.data.i)).toEqual([0, 1, 2, 3]);
    const page2 = await router.call('journal:list', { type: 'checkout.opened', limit: 4, after: v1.nextAfter }, context);
    const v2 = (page2 as { value: { entries: { data: { i: number } }[]; nextAfter: number | null } }).value;
    expect(v2.entries.map((e) => e.data.i)).toEqual([4, 5, 6]);
    expect(v2.nextAfter).toBeNull();

    // The app's session started with real time; verification checks the live tail against now.
    const verify = await router.call('journal:verify', {}, context);
    expect(verify).toMatchObject({ ok: true, value: { ok: true, failureCount: 0, entries: head.seq + 1 } });
  });

  it('exports bundle, CSV and PDF through the API and refuses relative or mistyped paths', async () => {
    await setup();
    services.journal.attach(journal.store, journal.device);
    journal.store.append({ type: 'checkout.opened', data: { reason: 'x' } });
    const out = join(journal.dir, 'api.hkj');
    const result = await router.call(
      'journal:export',
      { out, csv: join(journal.dir, 'api.csv'), pdf: join(journal.dir, 'api.pdf') },
      context,
    );
    expect(result).toMatchObject({ ok: true, value: { bundle: out, complete: true } });
    for (const f of ['api.hkj', 'api.csv', 'api.pdf']) expect(existsSync(join(journal.dir, f))).toBe(true);
    const relative = await router.call('journal:export', { out: 'api.hkj' }, context);
    expect(relative).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field: 'out' } } });
    const wrongExt = await router.call('journal:export', { out: join(journal.dir, 'x.txt') }, context);
    expect(wrongExt).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD' } });
    const badLimit = await router.call('journal:list', { limit: 100_000 }, context);
    expect(badLimit).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field: 'limit' } } });
  });

  it("reports a long export's progress to polls while it runs, and takes one export at a time", async () => {
    await setup(1_000);
    services.journal.attach(journal.store, journal.device);
    expect(await router.call('journal:export-progress', {}, context)).toEqual({ ok: true, value: null });
    for (let i = 0; i < 12; i++)
      journal.store.appendBatch(Array.from({ length: 1_000 }, (_, j) => ({ type: 'checkout.opened', data: { i: i * 1_000 + j } })));
    const out = join(journal.dir, 'long.hkj');
    let settled = false;
    const pending = router.call('journal:export', { out }, context).finally(() => {
      settled = true;
    });
    const seen: { phase: string; done: number; total: number }[] = [];
    let second: unknown = null;
    while (!settled) {
      const poll = await router.call('journal:export-progress', {}, context);
      if (!poll.ok) throw new Error(poll.error.message);
      const progress = poll.value as { phase: string; done: number; total: number } | null;
      if (progress && progress.phase === 'entries' && progress.done > 0 && progress.done < progress.total && seen.length === 0) {
        // Between windows no SQLite read is open, so the app's own journal writes still go through.
        journal.store.append({ type: 'checkout.opened', data: { during: 'export' } });
        second = await router.call('journal:export', { out: join(journal.dir, 'second.hkj') }, context);
      }
      if (progress) seen.push(progress);
      await new Promise(setImmediate);
    }
    const result = await pending;
    expect(result).toMatchObject({ ok: true, value: { bundle: out, complete: true } });
    const head = (result as { value: { head: { seq: number } } }).value.head;
    expect(seen.some((p) => p.phase === 'entries' && p.done > 0 && p.done < p.total)).toBe(true);
    expect(second).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(await router.call('journal:export-progress', {}, context)).toEqual({
      ok: true,
      value: { phase: 'done', done: head.seq + 1, total: head.seq + 1 },
    });
    expect(journal.store.head()!.seq).toBeGreaterThan(head.seq);
  });

  it('closing the app ends the session with session.ended and a checkpoint', async () => {
    await setup();
    // The heartbeat runs on the wall clock: a store clock years behind would be a real gap (session.resumed).
    journal.clock = Date.now();
    services.journal.attach(journal.store, journal.device, { heartbeat: true });
    await services.close();
    const types = [...journal.store.read({})].map((e) => e.type);
    expect(types.slice(-3)).toEqual(['session.started', 'session.ended', 'checkpoint']);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { sodiumReady } from '../../shared/sodium';
import { FIXTURE_DIR, writeFixtureBundle } from '../fixtures/cloudtrail/fixture-journal';

// reconcile:run through the real router and app services, as the reviewer screen will call it:
// the schema refuses what it must (with the field), and the handler runs with no vault open.

let dir: string;
let services: AppServices;
let router: ApiRouter;
let bundle: string;
const logs = (): string => join(FIXTURE_DIR, 'logs');

beforeAll(async () => {
  await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-reconcile-api-'));
  bundle = join(dir, 'journal.hkj');
  writeFixtureBundle(bundle);
  services = await openAppServices({ mode: 'preview', vaultDir: join(dir, 'no-vault') });
  router = createRouter(createHandlerTable(services));
}, 60_000);
afterAll(async () => {
  await services?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (payload: unknown) => router.call('reconcile:run', payload, { adapter: 'test' });

describe('reconcile:run', () => {
  it('refuses requests the schema does not allow, naming the field', async () => {
    const journal = { kind: 'bundle', path: '/tmp/j.hkj' };
    const cases: [unknown, string][] = [
      [{ journal, cloudtrail: ['relative/logs'] }, 'cloudtrail.0'],
      [{ journal, cloudtrail: [] }, 'cloudtrail'],
      [{ journal, cloudtrail: Array.from({ length: 4097 }, (_v, i) => `/logs/${i}`) }, 'cloudtrail'],
      [{ journal, cloudtrail: [`/${'x'.repeat(5000)}`] }, 'cloudtrail.0'],
      [{ journal, cloudtrail: ['/logs\0/x'] }, 'cloudtrail.0'],
      [{ journal: { kind: 'server-export', path: '/tmp/e.hkx' }, cloudtrail: ['/logs'] }, 'journal.serverKey'],
      [{ journal: { kind: 'bundle', path: '/tmp/j.hkj', serverKey: 'ab'.repeat(32) }, cloudtrail: ['/logs'] }, 'journal'],
      [{ journal, cloudtrail: ['/logs'], slackSeconds: -1 }, 'slackSeconds'],
      [{ journal, cloudtrail: ['/logs'], slackSeconds: 90_000 }, 'slackSeconds'],
      [{ journal, cloudtrail: ['/logs'], csv: '/tmp/out.txt' }, 'csv'],
      [{ journal, cloudtrail: ['/logs'], workers: 65 }, 'workers'],
      [{ journal, cloudtrail: ['/logs'], extra: true }, 'payload'],
    ];
    for (const [payload, field] of cases) {
      const result = await call(payload);
      expect(result.ok, JSON.stringify(payload).slice(0, 120)).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('INVALID_PAYLOAD');
        expect(result.error.detail?.field, JSON.stringify(payload).slice(0, 120)).toBe(field);
      }
    }
  });

  it('reconciles with no vault open and answers the whole report (the schema checks it on the way out)', async () => {
    expect(services.vault.status().state).toBe('none');
    const result = await call({ journal: { kind: 'bundle', path: bundle }, cloudtrail: [logs()] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const report = result.value as { ok: boolean; slackSeconds: number; summary: Record<string, number>; written: unknown };
    expect(report.slackSeconds).toBe(300);
    expect(report.ok).toBe(false);
    expect(report.summary).toMatchObject({ halfExplained: 2, unexplained: 2 });
    expect(report.written).toEqual({ csv: null, pdf: null });
    expect(services.vault.status().state).toBe('none');
  });

  it('answers a missing path or an unverifiable journal with a typed error, never INTERNAL', async () => {
    const missing = await call({ journal: { kind: 'bundle', path: bundle }, cloudtrail: [join(dir, 'nowhere')] });
    expect(missing).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', detail: { field: 'cloudtrail' } } });
    const wrong = await call({ journal: { kind: 'server-export', path: bundle, serverKey: 'ab'.repeat(32) }, cloudtrail: [logs()] });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'INVALID_PAYLOAD', detail: { field: 'journal.path' } } });
  });
});

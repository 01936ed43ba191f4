import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { TestJournal } from '../support/journal-builder';
import { readQrDataUrl } from '../support/read-qr';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { appendEntries, issueToken } from '../support/sync-fixture';

const context = { adapter: 'test' as const };
let server: TestServer;
let journal: TestJournal;
let services: AppServices;
let router: ApiRouter;

beforeAll(async () => {
  await sodiumReady();
  server = await startTestServer('sqlite');
  journal = new TestJournal({ deviceSeed: 81 });
  appendEntries(journal, 12);
  services = await openAppServices({ mode: 'preview', vaultDir: journal.dir });
  router = createRouter(createHandlerTable(services));
});
afterAll(async () => {
  await services?.close();
  journal?.close();
  await server?.close();
});

describe('sync API channels', () => {
  it('reports not-enrolled and refuses to sync before a vault is attached', async () => {
    expect(await router.call('sync:status', {}, context)).toMatchObject({
      ok: true,
      value: { state: 'not-enrolled', pending: 0, serverFingerprint: null },
    });
    expect(await router.call('sync:now', {}, context)).toMatchObject({ ok: false, error: { code: 'VAULT_LOCKED' } });
    expect(await router.call('sync:fingerprint-qr', {}, context)).toEqual({ ok: true, value: { fingerprint: null, qrDataUrl: null } });
  });

  it('validates the enrolment request and names the bad field', async () => {
    services.sync.attach({ db: journal.db, journal: journal.store, signer: journal.device });
    expect(await router.call('sync:enrol', { url: 'not a url', token: 'x'.repeat(20) }, context)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', detail: { field: 'url' } },
    });
    expect(await router.call('sync:enrol', { url: server.url, token: 'short' }, context)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', detail: { field: 'token' } },
    });
    const refused = await router.call('sync:enrol', { url: server.url, token: 'A'.repeat(43) }, context);
    expect(refused).toMatchObject({ ok: false, error: { code: 'SYNC_FAILED', detail: { code: 'TOKEN_INVALID' } } });
    expect(await router.call('sync:enrol', { url: server.url, token: 'A'.repeat(43), fingerprint: 'abc' }, context)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', detail: { field: 'fingerprint' } },
    });
    // A fingerprint other than the server's: refused before the token is sent, nothing pinned.
    const token = await issueToken(server);
    const impostor = await router.call(
      'sync:enrol',
      { url: server.url, token, fingerprint: '0123 4567 89ab cdef 0123 4567 89ab cdef' },
      context,
    );
    expect(impostor).toMatchObject({ ok: false, error: { code: 'POLICY_REFUSED' } });
    expect(await router.call('sync:status', {}, context)).toMatchObject({
      ok: true,
      value: { state: 'not-enrolled', serverFingerprint: null },
    });
    expect(await server.storage.queries.listDevices()).toEqual([]);
  });

  it('enrols, pins and shows the server fingerprint, then syncs everything on sync:now', async () => {
    const enrolled = await router.call('sync:enrol', { url: server.url, token: await issueToken(server) }, context);
    expect(enrolled).toMatchObject({ ok: true, value: { serverFingerprint: server.signer.fingerprint, serverUrl: server.url } });
    const app = await router.call('app:status', {}, context);
    expect(app).toMatchObject({ ok: true, value: { sync: { serverFingerprint: server.signer.fingerprint } } });
    const done = await router.call('sync:now', {}, context);
    expect(done).toMatchObject({ ok: true, value: { state: 'idle', pending: 0, lastError: null, ackedSeq: journal.store.head()!.seq } });
    expect((await router.call('app:status', {}, context)) as unknown).toMatchObject({
      ok: true,
      value: { sync: { state: 'idle', pending: 0 } },
    });
    expect(await router.call('sync:enrol', { url: server.url, token: await issueToken(server) }, context)).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });

    // The QR code for the out-of-band check really encodes the pinned fingerprint: read it back with zbarimg.
    const qr = await router.call('sync:fingerprint-qr', {}, context);
    if (!qr.ok) throw new Error(`sync:fingerprint-qr failed: ${qr.error.message}`);
    const { fingerprint, qrDataUrl } = qr.value as { fingerprint: string | null; qrDataUrl: string | null };
    expect(fingerprint).toBe(server.signer.fingerprint);
    expect(readQrDataUrl(qrDataUrl!)).toBe(server.signer.fingerprint);
  });

  it('sync:repin validates the fingerprint, and changes nothing while the server still signs with the pinned key', async () => {
    expect(await router.call('sync:repin', { fingerprint: 'not hex' }, context)).toMatchObject({
      ok: false,
      error: { code: 'INVALID_PAYLOAD', detail: { field: 'fingerprint' } },
    });
    expect(await router.call('sync:repin', { fingerprint: '0123 4567 89ab cdef 0123 4567 89ab cdef' }, context)).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT' },
    });
    expect(await router.call('sync:status', {}, context)).toMatchObject({
      ok: true,
      value: { serverFingerprint: server.signer.fingerprint },
    });
    expect(journal.store.query({ type: 'sync.server-key-changed' })).toEqual([]);
  });
});

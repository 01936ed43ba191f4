import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { sendRequest } from '../../electron/services/sync/transport';
import { SyncClient } from '../../electron/services/sync/client';
import { TEST_VAULT, TestJournal, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { enrolledClient, issueToken } from '../support/sync-fixture';

const journals: TestJournal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
});

describe.each<StorageKind>(['sqlite', 'postgres'])('enrolling a device key twice: %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses the second enrolment with ALREADY_ENROLLED, changes nothing, and leaves the second token unused', async () => {
    const first = new TestJournal({ deviceSeed: 161 });
    journals.push(first);
    await enrolledClient(server, first);
    const enrolled = (await server.storage.queries.getDevice(first.device.publicKey))!;

    // The same device key again (a copy of the vault, or a replayed enrolment), with a fresh token.
    const token = await issueToken(server);
    const again = await sendRequest(server.url, { method: 'POST', path: '/v1/enrol', json: { token, vault: 'fe'.repeat(16), device: first.device.publicKey, roster: [] } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'ALREADY_ENROLLED', message: 'this device key is already enrolled' } });
    expect(await server.storage.queries.getDevice(first.device.publicKey)).toEqual(enrolled);

    // The refusal rolled the token's use back: it still enrols another device.
    const other = seededSigner(162);
    const fresh = await sendRequest(server.url, { method: 'POST', path: '/v1/enrol', json: { token, vault: TEST_VAULT, device: other.publicKey, roster: [] } });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ device: other.publicKey, serverKey: server.signer.publicKey });
  });

  it('the client reports it by code and stays not enrolled', async () => {
    const original = new TestJournal({ deviceSeed: 163 });
    const copy = new TestJournal({ deviceSeed: 163 });
    journals.push(original, copy);
    await enrolledClient(server, original);
    const client = new SyncClient({ db: copy.db, journal: copy.store, signer: copy.device });
    const refusal = await client.enroll(server.url, await issueToken(server)).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(HalfkeyError);
    expect(refusal).toMatchObject({ code: 'SYNC_FAILED', message: expect.stringContaining('already enrolled'), detail: { code: 'ALREADY_ENROLLED' } });
    expect(client.status()).toMatchObject({ state: 'not-enrolled', serverFingerprint: null });
  });
});

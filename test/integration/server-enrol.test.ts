import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { ROTATION_HEADER } from '../../shared/sync/wire';
import { sendRequest } from '../../electron/sync/transport';
import { SyncClient } from '../../electron/sync/client';
import { TEST_VAULT, TestJournal, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, enrolment, issueToken } from '../support/sync-fixture';

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
    const again = await sendRequest(server.url, {
      method: 'POST',
      path: '/v1/enrol',
      json: enrolment(token, 'fe'.repeat(16), first.device),
    });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: { code: 'ALREADY_ENROLLED', message: 'this device key is already enrolled' } });
    expect(await server.storage.queries.getDevice(first.device.publicKey)).toEqual(enrolled);

    // The refusal rolled the token's use back: it still enrols another device.
    const other = seededSigner(162);
    const fresh = await sendRequest(server.url, { method: 'POST', path: '/v1/enrol', json: enrolment(token, TEST_VAULT, other) });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ device: other.publicKey, serverKey: server.signer.publicKey });
  });

  it('a device that rotated its key before enrolling proves possession with the new key and its rotation entries', async () => {
    const j = new TestJournal({ deviceSeed: 164 });
    journals.push(j);
    appendEntries(j, 2);
    const newKey = seededSigner(165);
    j.tick();
    const rotation = j.store.rotateDeviceKey(newKey);
    appendEntries(j, 1);

    // The new key's signature alone says nothing about the device id it is enrolled under.
    const token = await issueToken(server);
    const bare = await sendRequest(server.url, {
      method: 'POST',
      path: '/v1/enrol',
      json: enrolment(token, TEST_VAULT, j.device, [], newKey),
    });
    expect(bare.body).toMatchObject({ error: { code: 'BAD_REQUEST_SIGNATURE' } });
    const proven = await sendRequest(server.url, {
      method: 'POST',
      path: '/v1/enrol',
      json: enrolment(token, TEST_VAULT, j.device, [], newKey),
      headers: { [ROTATION_HEADER]: JSON.stringify([rotation]) },
    });
    expect(proven.status).toBe(200);

    // The client does the same on its own, and then syncs under the new key.
    const k = new TestJournal({ deviceSeed: 166 });
    journals.push(k);
    appendEntries(k, 2);
    const kNew = seededSigner(167);
    k.tick();
    k.store.rotateDeviceKey(kNew);
    const client = new SyncClient({ db: k.db, journal: k.store, signer: kNew });
    await client.enroll(server.url, await issueToken(server));
    expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null });
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
    expect(refusal).toMatchObject({
      code: 'SYNC_FAILED',
      message: expect.stringContaining('already enrolled'),
      detail: { code: 'ALREADY_ENROLLED' },
    });
    expect(client.status()).toMatchObject({ state: 'not-enrolled', serverFingerprint: null });
  });
});

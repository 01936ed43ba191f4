import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY_TYPES } from '../../shared/journal/entry-types';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import { ROTATION_HEADER } from '../../shared/sync/wire';
import { SyncClient } from '../../electron/sync/client';
import { sendRequest, type WireResponse } from '../../electron/sync/transport';
import { currentDeviceKey } from '../../server/auth';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, foundingEnrolment } from '../support/sync-fixture';

const journals: TestJournal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
});

const code = (r: WireResponse): unknown => (r.body as { error?: { code?: unknown } }).error?.code;

describe.each<StorageKind>(['sqlite', 'postgres'])('device key rotation: %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  /** GET head as the device, signed by `signer`, optionally with a rotation proof. */
  const head = (j: TestJournal, signer: EntrySigner, proof?: SignedEntry | SignedEntry[]): Promise<WireResponse> =>
    sendRequest(server.url, {
      method: 'GET',
      path: `/v1/devices/${j.device.publicKey}/head`,
      signer,
      device: j.device.publicKey,
      ...(proof ? { headers: { [ROTATION_HEADER]: JSON.stringify(proof) } } : {}),
    });

  it('keeps syncing after a rotation: the new key signs, the old key is refused once the rotation is held', async () => {
    const j = new TestJournal({ deviceSeed: 61 });
    journals.push(j);
    appendEntries(j, 5);
    const before = await enrolledClient(server, j);
    expect((await before.syncNow()).pending).toBe(0);

    const newKey = seededSigner(62);
    j.tick();
    const rotation = j.store.rotateDeviceKey(newKey);
    appendEntries(j, 3);

    // Until the server holds the rotation, only the rotation entry itself vouches for the new key.
    expect(await head(j, newKey).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect((await head(j, newKey, rotation)).status).toBe(200);

    const after = new SyncClient({ db: j.db, journal: j.store, signer: newKey, backoff: { baseMs: 20, maxMs: 200 } });
    const status = await after.syncNow();
    expect(status).toMatchObject({ pending: 0, lastError: null, ackedSeq: j.store.head()!.seq });
    const record = (await server.storage.queries.getDevice(j.device.publicKey))!;
    expect(record.headSeq).toBe(j.store.head()!.seq);
    expect(currentDeviceKey(record)).toBe(newKey.publicKey);
    expect(await server.storage.queries.listAlarms(j.device.publicKey)).toEqual([]);

    // The old key no longer authenticates, not even with the (now held) rotation entry.
    expect(await head(j, j.device).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect(await head(j, j.device, rotation).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect((await head(j, newKey)).body).toMatchObject({ seq: j.store.head()!.seq });

    appendEntries(j, 2);
    expect(await after.syncNow()).toMatchObject({ pending: 0, ackedSeq: j.store.head()!.seq });
    expect((await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 1_000)).map((e) => e.hash)).toEqual(
      [...j.store.read()].map((e) => e.hash),
    );
  });

  it('refuses a key that a rotation entry does not vouch for, or a rotation entry that was altered', async () => {
    const j = new TestJournal({ deviceSeed: 63 });
    journals.push(j);
    appendEntries(j, 2);
    expect((await (await enrolledClient(server, j)).syncNow()).pending).toBe(0);
    const rotation = j.store.rotateDeviceKey(seededSigner(64));
    const attacker = seededSigner(65);
    // A genuine proof for another key does not authenticate the attacker's key.
    expect(await head(j, attacker, rotation).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    // Naming the attacker's key in the entry breaks its hash and the old key's signature.
    const altered = { ...rotation, data: { ...rotation.data, newDeviceKey: attacker.publicKey } };
    expect(await head(j, attacker, altered).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    // A rotation the attacker signs alone lacks the current key's signature.
    const selfMade = {
      ...altered,
      sigs: [
        { key: attacker.publicKey, sig: rotation.sigs[0]!.sig },
        { key: attacker.publicKey, sig: rotation.sigs[1]!.sig },
      ],
    };
    expect(await head(j, attacker, selfMade).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect(rotation.type).toBe(ENTRY_TYPES.deviceKeyRotated);
    expect(currentDeviceKey((await server.storage.queries.getDevice(j.device.publicKey))!)).toBe(j.device.publicKey);
  });

  it('catches up after several rotations made offline: the proof chains them, a broken chain is refused', async () => {
    const j = new TestJournal({ deviceSeed: 66 });
    journals.push(j);
    appendEntries(j, 3);
    expect((await (await enrolledClient(server, j)).syncNow()).pending).toBe(0);
    // Offline: three rotations, entries between them.
    const keys = [seededSigner(67), seededSigner(68), seededSigner(69)];
    const rotations: SignedEntry[] = [];
    for (const key of keys) {
      j.tick();
      rotations.push(j.store.rotateDeviceKey(key));
      appendEntries(j, 2);
    }
    const last = keys[keys.length - 1]!;
    // Only the whole chain, oldest first, vouches for the newest key.
    expect(await head(j, last, rotations[2]).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect(await head(j, last, [rotations[0]!, rotations[2]!]).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect(await head(j, last, [rotations[1]!, rotations[0]!, rotations[2]!]).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect(await head(j, keys[1]!, rotations).then(code)).toBe('BAD_REQUEST_SIGNATURE');
    expect((await head(j, last, rotations)).status).toBe(200);

    const client = new SyncClient({ db: j.db, journal: j.store, signer: last, backoff: { baseMs: 20, maxMs: 200 } });
    expect(await client.syncNow()).toMatchObject({ pending: 0, lastError: null, ackedSeq: j.store.head()!.seq });
    expect(currentDeviceKey((await server.storage.queries.getDevice(j.device.publicKey))!)).toBe(last.publicKey);
    expect((await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 1_000)).map((e) => e.hash)).toEqual(
      [...j.store.read()].map((e) => e.hash),
    );
  });

  it('refuses a custodian enrolled with any key the device ever signed as, not only its current one (the reverse key rule)', async () => {
    const j = new TestJournal({ deviceSeed: 67 });
    journals.push(j);
    appendEntries(j, 2);
    await enrolledClient(server, j);
    const [key1, key2] = [seededSigner(68), seededSigner(69)];
    j.store.rotateDeviceKey(key1);
    appendEntries(j, 1);
    j.store.rotateDeviceKey(key2);
    appendEntries(j, 1);
    const send = (entries: readonly SignedEntry[], signer: EntrySigner): Promise<WireResponse> =>
      sendRequest(server.url, {
        method: 'POST',
        path: `/v1/devices/${j.device.publicKey}/entries`,
        json: { entries },
        signer,
        device: j.device.publicKey,
      });
    // Signed by the genesis key: the server holds no rotation yet.
    expect((await send([...j.store.read()], j.device)).status).toBe(200);
    const tip = [...j.store.read()].pop()!;
    const enrol = (custodianKey: EntrySigner): SignedEntry => foundingEnrolment(tip, custodianKey, key2);
    // The held rotation named key1; the genesis key is the device id. Both stay the device's.
    for (const former of [key1, j.device]) {
      const res = await send([enrol(former)], key2);
      expect(res.status).toBe(422);
      expect((res.body as { error: { evidence: { failures: unknown[] } } }).error.evidence.failures).toEqual([
        { seq: tip.seq + 1, code: 'MALFORMED_ENTRY', reason: expect.stringMatching(/is a device key this journal used/) as unknown },
      ]);
    }
    // The current key is refused by the chain verifier itself.
    expect(code(await send([enrol(key2)], key2))).toBe('ENTRY_INVALID');
    // Any other key is enrolled.
    expect((await send([enrol(seededSigner(70))], key2)).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Signer, entryBodyOf, signEntry, type SignedEntry } from '../../shared/journal/entry';
import { merkleRoot, verifyConsistency } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { receiptSchema, verifyReceipt, type Receipt } from '../../shared/sync/receipt';
import { reviewerChallengeMessage } from '../../shared/sync/wire';
import { incidentsResponseSchema, reviewHash, reviewSignatureMessage, type ReviewBody } from '../../shared/sync/review-wire';
import { hashToken } from '../../server/tokens';
import { expectOk, sendRequest } from '../../electron/sync/transport';
import { journalsClosedAfterEach, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { SyncClient } from '../../electron/sync/client';
import { appendEntries, countChecks, enrolledClient, grantReviewer, issueToken, upload } from '../support/sync-fixture';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const journal = journalsClosedAfterEach();

describe.each<StorageKind>(['sqlite', 'postgres'])('sync against a real server: %s', (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('uploads a journal, stores a verified receipt for every entry and cosignatures for checkpoints', async () => {
    const j = journal({ deviceSeed: 11 });
    appendEntries(j, 20);
    const client = await enrolledClient(server, j);
    expect(client.status()).toMatchObject({ state: 'idle', pending: j.store.head()!.seq + 1, ackedSeq: null });
    const status = await client.syncNow();
    expect(status).toMatchObject({ state: 'idle', pending: 0, lastError: null, ackedSeq: j.store.head()!.seq });
    const receipts = [...j.store.receipts()];
    const entries = [...j.store.read()];
    expect(receipts.map((r) => r.seq)).toEqual(entries.map((e) => e.seq));
    for (const r of receipts)
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
          server.signer.publicKey,
          sodium,
        ),
      ).toBe(true);
    const checkpoints = entries.filter((e) => e.type === 'checkpoint').map((e) => e.seq);
    expect(checkpoints.length).toBeGreaterThan(0);
    expect((j.db.prepare('SELECT seq FROM sync_cosignatures ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq)).toEqual(
      checkpoints,
    );
    const held = await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 1_000);
    expect(held.map((e) => e.hash)).toEqual(entries.map((e) => e.hash));
  });

  it('answers a resent batch with the same receipts and changes nothing; an overlapping one gets every receipt under its new head', async () => {
    const j = journal({ deviceSeed: 12 });
    appendEntries(j, 5);
    await enrolledClient(server, j);
    const entries = [...j.store.read()];
    const first = expectOk(await upload(server, j, entries)) as { receipts: unknown[] };
    const sizeBefore = (await server.storage.queries.latestTreeHead())!.size;
    // The resend's entries are matched by hash: none goes to the signature workers again.
    const checks = countChecks(server);
    const again = expectOk(await upload(server, j, entries)) as { receipts: unknown[] };
    expect(checks.count()).toBe(0);
    expect(again.receipts).toEqual(first.receipts);
    expect((await server.storage.queries.latestTreeHead())!.size).toBe(sizeBefore);
    // An overlapping batch: the held entry keeps its place in the log, and every receipt is
    // under the one head the batch's append signed (never a head signed earlier, perhaps by a retired key).
    appendEntries(j, 3);
    const tail = [...j.store.read({ from: 4 })];
    const overlap = expectOk(await upload(server, j, tail)) as { receipts: Receipt[] };
    checks.restore();
    // Only the entries the server did not hold were verified.
    expect(checks.count()).toBe(tail.filter((e) => e.seq >= entries.length).length);
    expect(overlap.receipts.map((r) => r.seq)).toEqual(tail.map((e) => e.seq));
    const held = first.receipts[4] as Receipt;
    expect(overlap.receipts[0]).toMatchObject({ seq: held.seq, entryHash: held.entryHash, logIndex: held.logIndex });
    expect(overlap.receipts[0]!.treeHead).toEqual(overlap.receipts[1]!.treeHead);
    expect(overlap.receipts[0]!.treeHead.size).toBe(sizeBefore + tail.filter((e) => e.seq >= entries.length).length);
    for (const r of overlap.receipts) expect(verifyReceipt(r, server.signer.publicKey, sodium)).toBe(true);
  });

  it('answers a resend with the same few queries whether it spans one earlier batch or many', async () => {
    const j = journal({ deviceSeed: 21 });
    appendEntries(j, 11);
    await enrolledClient(server, j);
    const entries = [...j.store.read()];
    for (let i = 0; i < entries.length; i += 2) expectOk(await upload(server, j, entries.slice(i, i + 2)));
    // Counts the storage calls the ingest transaction makes (the real storage underneath).
    const original = server.storage.transaction;
    const run = original.bind(server.storage);
    let queries = 0;
    server.storage.transaction = (fn, options) =>
      run((tx) => {
        const counted = new Proxy(tx, {
          get: (target, key) => {
            const value = Reflect.get(target, key) as unknown;
            return typeof value === 'function'
              ? (...args: unknown[]) => (queries++, (value as (...a: unknown[]) => unknown).apply(target, args))
              : value;
          },
        });
        return fn(counted);
      }, options);
    const resend = async (batch: readonly SignedEntry[]): Promise<number> => {
      queries = 0;
      const answer = expectOk(await upload(server, j, batch)) as { receipts: Receipt[] };
      expect(answer.receipts.map((r) => r.seq)).toEqual(batch.map((e) => e.seq));
      for (const r of answer.receipts) expect(verifyReceipt(r, server.signer.publicKey, sodium)).toBe(true);
      return queries;
    };
    try {
      const one = await resend(entries.slice(0, 2));
      expect(await resend(entries)).toBe(one);
    } finally {
      server.storage.transaction = original;
    }
  });

  it('with receipts=batch, sends one proof block from which the client derives exactly the receipts the server would send each', async () => {
    // Other devices' entries first, so this batch starts at a log size with several frontier subtrees.
    const other = journal({ deviceSeed: 17 });
    appendEntries(other, 6);
    await (await enrolledClient(server, other)).syncNow();
    const j = journal({ deviceSeed: 18 });
    appendEntries(j, 40);
    const client = await enrolledClient(server, j);
    const logStart = (await server.storage.queries.latestTreeHead())!.size;
    expect((await client.syncNow()).pending).toBe(0);
    const stored = [...j.store.receipts()].map((r) => ({
      device: r.device,
      seq: r.seq,
      entryHash: r.entryHash,
      logIndex: r.logIndex,
      treeHead: r.treeHead,
      inclusionProof: r.inclusionProof,
    }));
    const entries = [...j.store.read()];
    // Kept as the one block the server sent, not a row with an audit path per entry.
    expect(j.db.prepare('SELECT first_seq, count, log_start FROM journal_receipt_blocks').all()).toEqual([
      { first_seq: 0, count: entries.length, log_start: logStart },
    ]);
    expect(j.db.prepare('SELECT COUNT(*) AS n FROM journal_receipts').get()).toEqual({ n: 0 });
    expect(stored.map((r) => r.seq)).toEqual(entries.map((e) => e.seq));
    expect(stored.map((r) => r.logIndex)).toEqual(entries.map((_, i) => logStart + i));
    for (const r of stored) expect(verifyReceipt(r, server.signer.publicKey, sodium)).toBe(true);
    // The same entries sent again: the server answers each one's receipt from its log, and they are the ones the client derived.
    const resent = expectOk(await upload(server, j, entries)) as { receipts: unknown[]; appended?: unknown };
    expect(resent.appended).toBeUndefined();
    expect(resent.receipts).toEqual(stored);

    // Directly: an overlapping batch in batch mode gets receipts for the held part and one block for the new part.
    appendEntries(j, 3);
    const sizeBefore = (await server.storage.queries.latestTreeHead())!.size;
    const tail = [...j.store.read({ from: entries.length - 2 })];
    const path = `/v1/devices/${j.device.publicKey}/entries?receipts=batch`;
    const answer = expectOk(await sendRequest(server.url, { method: 'POST', path, json: { entries: tail }, signer: j.device })) as {
      receipts: { seq: number }[];
      appended: { logStart: number; frontier: string[]; treeHead: { size: number } };
    };
    expect(answer.receipts.map((r) => r.seq)).toEqual(tail.slice(0, 2).map((e) => e.seq));
    expect(answer.appended.logStart).toBe(sizeBefore);
    expect(answer.appended.treeHead.size).toBe(sizeBefore + 3);
    // One frontier subtree per set bit of the log size before the batch.
    expect(answer.appended.frontier.length).toBe(sizeBefore.toString(2).replace(/0/g, '').length);
    // An unknown receipt mode is refused before anything is read.
    const bad = await sendRequest(server.url, {
      method: 'POST',
      path: `/v1/devices/${j.device.publicKey}/entries?receipts=none`,
      json: { entries: tail },
      signer: j.device,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'BAD_REQUEST', message: expect.stringContaining('query.receipts') } });
  });

  it('refuses a batch that skips ahead with SEQUENCE_GAP and the seq to resume from', async () => {
    const j = journal({ deviceSeed: 13 });
    appendEntries(j, 6);
    await enrolledClient(server, j);
    const response = await upload(server, j, [...j.store.read({ from: 3 })]);
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ error: { code: 'SEQUENCE_GAP', evidence: { expected: 0 } } });
  });

  it('makes a batch sent ahead wait for the one before it instead of refusing it, and verifies each entry once', async () => {
    const j = journal({ deviceSeed: 19 });
    appendEntries(j, 400);
    await enrolledClient(server, j);
    const entries = [...j.store.read()];
    const checks = countChecks(server);
    try {
      const big = upload(server, j, entries.slice(0, -1));
      await checks.started; // the big batch is being verified: the one-entry batch after it arrives now
      const tail = await upload(server, j, entries.slice(-1));
      expect(tail.status).toBe(200);
      expect((await big).status).toBe(200);
      expect(checks.count()).toBe(entries.length);
    } finally {
      checks.restore();
    }
    expect((await server.storage.queries.entriesBySeq(j.device.publicKey, 0, 10_000)).map((e) => e.hash)).toEqual(
      entries.map((e) => e.hash),
    );
  });

  it('refuses a forked history with both entries as evidence, and a restored old copy as a rollback', async () => {
    const original = journal({ deviceSeed: 14, start: 1_700_000_000_000 });
    appendEntries(original, 4);
    const client = await enrolledClient(server, original);
    await client.syncNow();
    // Same device key, another genesis: a second history of this device.
    const forked = journal({ deviceSeed: 14, start: 1_700_000_500_000 });
    const fork = await upload(server, forked, [...forked.store.read()]);
    expect(fork.status).toBe(409);
    const forkBody = fork.body as { error: { code: string; evidence: { seq: number; held: SignedEntry; offered: SignedEntry } } };
    expect(forkBody.error.code).toBe('FORK');
    expect(forkBody.error.evidence.seq).toBe(0);
    expect(forkBody.error.evidence.held.hash).toBe([...original.store.read({ from: 0, to: 0 })][0]!.hash);
    expect(forkBody.error.evidence.offered.hash).toBe([...forked.store.read({ from: 0, to: 0 })][0]!.hash);
    // The same history up to seq 2, then different entries: an old copy restored and written on.
    const restored = journal({ deviceSeed: 14, start: 1_700_000_000_000 });
    appendEntries(restored, 2);
    restored.tick();
    restored.store.append({ type: 'test.event', data: { rewritten: true } });
    const rollback = await upload(server, restored, [...restored.store.read()]);
    expect(rollback.status).toBe(409);
    expect(rollback.body).toMatchObject({ error: { code: 'ROLLBACK', evidence: { seq: 3 } } });
    const alarms = await server.storage.queries.listAlarms(original.device.publicKey);
    expect(alarms.map((a) => a.kind)).toEqual(['FORK', 'ROLLBACK']);
    // Each alarm keeps both entries, the offered one signed by the device.
    const evidence = JSON.parse(alarms[1]!.evidence) as { seq: number; held: SignedEntry; offered: SignedEntry };
    expect(evidence.held.hash).toBe([...original.store.read({ from: 3, to: 3 })][0]!.hash);
    expect(evidence.offered).toEqual([...restored.store.read({ from: 3, to: 3 })][0]);
    expect(JSON.parse(alarms[0]!.evidence)).toEqual(forkBody.error.evidence);
    // Nothing of the refused histories was stored.
    expect((await server.storage.queries.entriesBySeq(original.device.publicKey, 0, 100)).map((e) => e.hash)).toEqual(
      [...original.store.read()].map((e) => e.hash),
    );
  });

  it('records a fork or rollback only for an entry the device signed: a forged one is refused as invalid and leaves no alarm', async () => {
    const original = journal({ deviceSeed: 20, start: 1_700_000_000_000 });
    appendEntries(original, 4);
    await (await enrolledClient(server, original)).syncNow();
    const device = original.device.publicKey;
    // An old copy restored and written on: its seq 3 continues the held seq 2.
    const restored = journal({ deviceSeed: 20, start: 1_700_000_000_000 });
    appendEntries(restored, 2);
    restored.tick();
    restored.store.append({ type: 'test.event', data: { rewritten: true } });
    const history = [...restored.store.read()];
    const genuine = history[3]!;
    const zeroSig = { key: device, sig: '0'.repeat(128) };
    const forged: [string, SignedEntry, string][] = [
      ['an all-zero signature', { ...genuine, sigs: [zeroSig] }, 'BAD_SIGNATURE'],
      ['a field changed after signing', { ...genuine, data: { rewritten: 'differently' } }, 'HASH_MISMATCH'],
      [
        'a valid signature by a key that is not the device’s',
        signEntry(entryBodyOf(genuine), [seededSigner(0x77)], sodium),
        'MISSING_DEVICE_SIGNATURE',
      ],
    ];
    for (const [what, entry, failure] of forged) {
      const answer = await upload(server, restored, [...history.slice(0, 3), entry]);
      expect(answer.status, what).toBe(422);
      const error = (answer.body as { error: { code: string; message: string; evidence: { failures: { seq: number; code: string }[] } } })
        .error;
      expect(error.code, what).toBe('ENTRY_INVALID');
      expect(error.message, what).toMatch(/^seq 3 differs from the entry the server holds, but is not the device's signed entry: /);
      expect(error.evidence.failures, what).toContainEqual(expect.objectContaining({ seq: 3, code: failure }));
    }
    // Another genesis with a zeroed signature: not a fork either.
    const other = journal({ deviceSeed: 20, start: 1_700_000_500_000 });
    const otherGenesis = [...other.store.read({ from: 0, to: 0 })][0]!;
    const forgedFork = await upload(server, other, [{ ...otherGenesis, sigs: [zeroSig] }]);
    expect(forgedFork.body).toMatchObject({
      error: { code: 'ENTRY_INVALID', evidence: { failures: [{ seq: 0, code: 'BAD_SIGNATURE' }] } },
    });
    expect(await server.storage.queries.listAlarms(device)).toEqual([]);

    // The same rollback, signed by the device: now it is evidence, kept with both entries.
    const rollback = await upload(server, restored, history);
    expect(rollback.body).toMatchObject({ error: { code: 'ROLLBACK', evidence: { seq: 3, offered: { hash: genuine.hash } } } });
    const alarms = await server.storage.queries.listAlarms(device);
    expect(alarms.map((a) => a.kind)).toEqual(['ROLLBACK']);
    expect(JSON.parse(alarms[0]!.evidence)).toMatchObject({
      seq: 3,
      held: { hash: [...original.store.read({ from: 3, to: 3 })][0]!.hash },
      offered: genuine,
    });
    expect((await server.storage.queries.entriesBySeq(device, 0, 100)).map((e) => e.hash)).toEqual(
      [...original.store.read()].map((e) => e.hash),
    );
  });

  it('gives a granted reviewer a session, sync state, alarms, break-glass review and a verifiable export', async () => {
    const j = journal({ deviceSeed: 15 });
    j.enrol('rita', 0x52, { role: 'reviewer' });
    j.tick();
    const opened = j.store.append({ type: 'break-glass.opened', data: { session: 'bg-1', account: 'prod', reference: 'INC-1' } });
    j.tick();
    j.store.append({ type: 'checkout.opened', data: { breakGlass: true, breakGlassSession: 'bg-1', account: 'prod' } });
    j.tick();
    j.store.append({ type: 'checkout.opened', data: { breakGlass: false } });
    const client = await enrolledClient(server, j);
    await client.syncNow();
    const rita = seededSigner(0x52);
    const mallory = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    const refused = await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: mallory.publicKey } });
    expect(refused.body).toMatchObject({ error: { code: 'NOT_A_REVIEWER' } });
    await grantReviewer(server, rita.publicKey, 'Rita');

    const { challenge } = expectOk(
      await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: rita.publicKey } }),
    ) as { challenge: string };
    const badSig = sodium.to_hex(mallory.sign(reviewerChallengeMessage(challenge, sodium)));
    expect(
      (
        await sendRequest(server.url, {
          method: 'POST',
          path: '/v1/reviewer/session',
          json: { key: rita.publicKey, challenge, signature: badSig },
        })
      ).body,
    ).toMatchObject({ error: { code: 'CHALLENGE_INVALID' } });
    // A failed attempt uses the challenge up.
    const { challenge: c2 } = expectOk(
      await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: rita.publicKey } }),
    ) as { challenge: string };
    const signature = sodium.to_hex(rita.sign(reviewerChallengeMessage(c2, sodium)));
    const { token } = expectOk(
      await sendRequest(server.url, {
        method: 'POST',
        path: '/v1/reviewer/session',
        json: { key: rita.publicKey, challenge: c2, signature },
      }),
    ) as { token: string };
    const get = async (path: string): Promise<unknown> => {
      const res = await fetch(new URL(path, server.url), { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      return path.endsWith('export') ? res.text() : res.json();
    };
    const devices = (await get('/v1/reviewer/devices')) as { devices: { device: string; lastSeq: number }[] };
    expect(devices.devices.find((d) => d.device === j.device.publicKey)?.lastSeq).toBe(j.store.head()!.seq);
    // The break-glass session is one incident with its two entries; the ordinary checkout is not in it.
    const pending = incidentsResponseSchema.parse(await get('/v1/reviewer/incidents'));
    const mine = pending.incidents.filter((i) => i.device === j.device.publicKey);
    expect(mine.map((i) => [i.id, i.reference, i.entries.map((e) => e.entry.type)])).toEqual([
      [opened.hash, 'INC-1', ['break-glass.opened', 'checkout.opened']],
    ]);
    const body: ReviewBody = {
      subject: { kind: 'incident', id: opened.hash },
      finding: 'authorised',
      rotationDone: true,
      text: '',
      reviewer: rita.publicKey,
      time: Date.now(),
    };
    const ack = await fetch(new URL('/v1/reviewer/acknowledge', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ review: body, signature: sodium.to_hex(rita.sign(reviewSignatureMessage(body))) }),
    });
    expect(ack.status).toBe(200);
    const after = incidentsResponseSchema.parse(await get('/v1/reviewer/incidents'));
    expect(after.incidents.filter((i) => i.device === j.device.publicKey)).toEqual([]);

    const lines = ((await get('/v1/reviewer/export')) as string)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const header = lines[0] as { format: string; treeHead: { size: number; root: string } };
    expect(header.format).toBe('halfkey-server-export');
    const rows = lines.slice(1) as ({ kind: 'entry'; entry: SignedEntry; receipt: unknown } | { kind: 'review' })[];
    expect(rows.length).toBe(header.treeHead.size);
    // The acknowledgement is the last leaf, a review line; every entry line's receipt verifies.
    expect(rows[rows.length - 1]!.kind).toBe('review');
    const entryRows = rows.filter((r): r is { kind: 'entry'; entry: SignedEntry; receipt: unknown } => r.kind === 'entry');
    for (const row of entryRows) expect(verifyReceipt(receiptSchema.parse(row.receipt), server.signer.publicKey, sodium)).toBe(true);
    expect(
      sodium.to_hex(
        merkleRoot(
          [
            ...entryRows.map((r) => sodium.from_hex(r.entry.hash)),
            sodium.from_hex(
              reviewHash({ review: body, signature: (rows[rows.length - 1] as unknown as { signature: string }).signature }, sodium),
            ),
          ],
          sodium,
        ),
      ),
    ).toBe(header.treeHead.root);
    expect((await fetch(new URL('/v1/reviewer/devices', server.url), { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('refuses a key enrolled as reviewer in a vault journal but never granted by the operator, at sign-in and for acknowledgements', async () => {
    // Vault B's admin enrols a reviewer key they control in B's own journal and syncs it.
    const victim = journal({ deviceSeed: 71 });
    victim.tick();
    const declared = victim.store.append({ type: 'break-glass.opened', data: { session: 'bg-v' } });
    await (await enrolledClient(server, victim)).syncNow();
    const rogue = journal({ deviceSeed: 72 });
    rogue.enrol('mallory', 0x61, { role: 'reviewer' });
    await (await enrolledClient(server, rogue)).syncNow();
    const mallory = seededSigner(0x61);
    expect(await server.storage.queries.isReviewerKey(mallory.publicKey)).toBe(false);
    const challenge = await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: mallory.publicKey } });
    expect(challenge.status).toBe(403);
    expect(challenge.body).toMatchObject({
      error: { code: 'NOT_A_REVIEWER', message: expect.stringMatching(/halfkey server reviewer grant/) },
    });
    // Nor does a session slipped in some other way reach the views: the grant is checked on every request.
    const token = 'M'.repeat(43);
    await server.storage.queries.insertSession(hashToken(token, sodium), mallory.publicKey, Date.now() + 60_000);
    const review: ReviewBody = {
      subject: { kind: 'incident', id: declared.hash },
      finding: 'false-alarm',
      rotationDone: false,
      text: '',
      reviewer: mallory.publicKey,
      time: Date.now(),
    };
    const ack = await fetch(new URL('/v1/reviewer/acknowledge', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ review, signature: sodium.to_hex(mallory.sign(reviewSignatureMessage(review))) }),
    });
    expect(ack.status).toBe(403);
    expect(((await ack.json()) as { error: { code: string } }).error.code).toBe('NOT_A_REVIEWER');
    expect(await server.storage.queries.getIncident(declared.hash)).not.toBeNull();
    expect(await server.storage.queries.reviewOf('incident', declared.hash)).toBeNull();
    expect((await fetch(new URL('/v1/reviewer/export', server.url), { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  });

  it("ends a revoked reviewer's open session and refuses its next sign-in", async () => {
    const j = journal({ deviceSeed: 73 });
    appendEntries(j, 2);
    await (await enrolledClient(server, j)).syncNow();
    const vera = ed25519Signer(sodium.crypto_sign_keypair().privateKey, sodium);
    await grantReviewer(server, vera.publicKey, 'Vera');
    const signIn = async (): Promise<{ status: number; body: unknown }> => {
      const issued = await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: vera.publicKey } });
      if (issued.status !== 200) return issued;
      const { challenge } = issued.body as { challenge: string };
      const signature = sodium.to_hex(vera.sign(reviewerChallengeMessage(challenge, sodium)));
      return sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/session', json: { key: vera.publicKey, challenge, signature } });
    };
    const { token } = expectOk(await signIn()) as { token: string };
    const devices = (): Promise<Response> =>
      fetch(new URL('/v1/reviewer/devices', server.url), { headers: { authorization: `Bearer ${token}` } });
    expect((await devices()).status).toBe(200);
    // A challenge issued before the revocation is useless after it.
    const pending = expectOk(
      await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: vera.publicKey } }),
    ) as { challenge: string };

    expect(await server.storage.transaction((tx) => tx.revokeReviewer(vera.publicKey, Date.now()))).toBe(true);
    const after = await devices();
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe('SESSION_INVALID');
    const late = await sendRequest(server.url, {
      method: 'POST',
      path: '/v1/reviewer/session',
      json: {
        key: vera.publicKey,
        challenge: pending.challenge,
        signature: sodium.to_hex(vera.sign(reviewerChallengeMessage(pending.challenge, sodium))),
      },
    });
    expect(late.status).toBe(401);
    const again = await signIn();
    expect(again.status).toBe(403);
    expect(again.body).toMatchObject({ error: { code: 'NOT_A_REVIEWER' } });

    // A new grant lets the key sign in again, but never revives the ended session.
    await grantReviewer(server, vera.publicKey, 'Vera');
    expect((await devices()).status).toBe(401);
    expect((await signIn()).status).toBe(200);
  });

  it('proves the log append-only between any two signed tree heads', async () => {
    const j = journal({ deviceSeed: 16 });
    appendEntries(j, 3);
    const client = await enrolledClient(server, j);
    await client.syncNow();
    const small = expectOk(await sendRequest(server.url, { method: 'GET', path: '/v1/log/head' })) as { size: number; root: string };
    appendEntries(j, 7);
    await client.syncNow();
    const big = expectOk(await sendRequest(server.url, { method: 'GET', path: '/v1/log/head' })) as { size: number; root: string };
    const answer = expectOk(
      await sendRequest(server.url, { method: 'GET', path: `/v1/log/consistency?from=${small.size}&to=${big.size}` }),
    ) as { proof: string[] };
    expect(
      verifyConsistency(
        small.size,
        big.size,
        sodium.from_hex(small.root),
        sodium.from_hex(big.root),
        answer.proof.map((p) => sodium.from_hex(p)),
        sodium,
      ),
    ).toBe(true);
    const missing = await sendRequest(server.url, { method: 'GET', path: `/v1/log/consistency?from=${big.size + 5}&to=${big.size + 6}` });
    expect(missing.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

describe('a client facing a server that lies about where its batch went', () => {
  // A fault that cannot be caused for real with an honest server: a loopback HTTP proxy that
  // rewrites the ingest answer of the real server behind it.
  let server: TestServer;
  let proxy: import('node:http').Server;
  let proxyUrl = '';
  let lie: ((body: Record<string, unknown>) => void) | null = null;
  let nextSeed = 40;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
    const { createServer } = await import('node:http');
    proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const headers = Object.fromEntries(
            Object.entries(req.headers).filter(([k]) => k.startsWith('x-halfkey') || k === 'content-type'),
          ) as Record<string, string>;
          const upstream = await fetch(`${server.url}${req.url}`, {
            method: req.method,
            headers,
            ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
          });
          let text = await upstream.text();
          if (lie !== null && req.url?.includes('/entries') && upstream.status === 200) {
            const body = JSON.parse(text) as Record<string, unknown>;
            lie(body);
            text = JSON.stringify(body);
          }
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
        })();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const address = proxy.address() as import('node:net').AddressInfo;
    proxyUrl = `http://127.0.0.1:${address.port}`;
    // Someone else's entries first: the log's frontier before the batch is not empty.
    const other = journal({ deviceSeed: 31 });
    appendEntries(other, 11);
    await (await enrolledClient(server, other)).syncNow();
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => proxy?.close(() => resolve()));
    await server?.close();
  });

  it.each<[string, (body: Record<string, unknown>) => void, RegExp]>([
    [
      'a changed frontier node',
      (b) => ((b.appended as { frontier: string[] }).frontier[0] = 'ab'.repeat(32)),
      /do not lead to the signed root/,
    ],
    ['a shifted log position', (b) => ((b.appended as { logStart: number }).logStart += 1), /cannot hold/],
    [
      'a tree head changed after signing',
      (b) => ((b.appended as { treeHead: { timestamp: number } }).treeHead.timestamp += 1),
      /signature does not verify under the pinned server key/,
    ],
    ['a frontier with a subtree missing', (b) => (b.appended as { frontier: string[] }).frontier.pop(), /frontier of a tree of \d+ leaves/],
    ['no proof block at all', (b) => delete b.appended, /did not return a receipt for every entry/],
  ])('refuses %s, stores nothing, and takes the honest answer to its resend', async (_what, mutate, reason) => {
    const j = journal({ deviceSeed: nextSeed++ });
    appendEntries(j, 9);
    const client = new SyncClient({ db: j.db, journal: j.store, signer: j.device, backoff: { baseMs: 20, maxMs: 200 } });
    await client.enroll(proxyUrl, await issueToken(server));
    lie = mutate;
    try {
      const refused = await client.syncNow();
      expect(refused.pending).toBe(j.store.head()!.seq + 1);
      expect(refused.lastError).toMatch(reason);
      expect([...j.store.receipts()]).toEqual([]);
    } finally {
      lie = null;
    }
    const honest = await client.syncNow();
    expect(honest).toMatchObject({ pending: 0, lastError: null });
    const receipts = [...j.store.receipts()];
    expect(receipts).toHaveLength(j.store.head()!.seq + 1);
    for (const r of receipts)
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
          server.signer.publicKey,
          sodium,
        ),
      ).toBe(true);
  });
});

import { signEntry, type EntrySigner, type SignedEntry } from '../../shared/journal/entry';
import { enrolSignatureMessage, reviewerChallengeMessage } from '../../shared/sync/wire';
import { sodiumNow } from '../../shared/sodium';
import { SyncClient, type SyncClientOptions } from '../../electron/sync/client';
import { expectOk, sendRequest, type WireResponse } from '../../electron/sync/transport';
import { hashToken, newToken } from '../../server/tokens';
import type { TestJournal } from './journal-builder';
import type { TestServer } from './server-fixture';

/** Issues a one-time enrolment token the way `halfkey server enroll-token` does. */
export async function issueToken(server: TestServer, ttlMs = 15 * 60_000): Promise<string> {
  const sodium = sodiumNow();
  const token = newToken(sodium);
  await server.storage.queries.insertEnrolToken(hashToken(token, sodium), Date.now(), Date.now() + ttlMs);
  return token;
}

/** An enrolment body signed by the device key, as the sync client sends it (`signer` defaults to the device's own key). */
export function enrolment(
  token: string,
  vault: string,
  device: EntrySigner,
  roster: readonly unknown[] = [],
  signer: EntrySigner = device,
): { token: string; vault: string; device: string; roster: readonly unknown[]; signature: string } {
  const sodium = sodiumNow();
  const signature = sodium.to_hex(signer.sign(enrolSignatureMessage({ token, vault, device: device.publicKey }, sodium)));
  return { token, vault, device: device.publicKey, roster, signature };
}

/** Grants a signing key reviewer rights the way `halfkey server reviewer grant` does (a journal's reviewer role alone grants nothing). */
export async function grantReviewer(server: TestServer, signingKey: string, name = 'Test Reviewer'): Promise<void> {
  await server.storage.queries.grantReviewer(signingKey, name, Date.now());
}

/** The reviewer's flow (docs/sync-protocol.md, "Reviewers"): challenge, signed session, then the export as downloaded. */
export async function reviewerExport(server: TestServer, reviewer: EntrySigner): Promise<string> {
  const sodium = sodiumNow();
  const { challenge } = expectOk(
    await sendRequest(server.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key: reviewer.publicKey } }),
  ) as { challenge: string };
  const signature = sodium.to_hex(reviewer.sign(reviewerChallengeMessage(challenge, sodium)));
  const { token } = expectOk(
    await sendRequest(server.url, {
      method: 'POST',
      path: '/v1/reviewer/session',
      json: { key: reviewer.publicKey, challenge, signature },
    }),
  ) as { token: string };
  const res = await fetch(new URL('/v1/reviewer/export', server.url), { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`the reviewer export answered HTTP ${res.status}`);
  return res.text();
}

/** A sync client over a test journal's real vault database, enrolled with the server. */
export async function enrolledClient(
  server: TestServer,
  journal: TestJournal,
  options: Partial<SyncClientOptions> = {},
): Promise<SyncClient> {
  const client = new SyncClient({
    db: journal.db,
    journal: journal.store,
    signer: journal.device,
    backoff: { baseMs: 20, maxMs: 200 },
    ...options,
  });
  await client.enroll(server.url, await issueToken(server));
  return client;
}

/** Uploads entries as the journal's device, bypassing the client (to replay, fork or resend on purpose). */
export function upload(server: TestServer, journal: TestJournal, entries: readonly SignedEntry[]): Promise<WireResponse> {
  return sendRequest(server.url, {
    method: 'POST',
    path: `/v1/devices/${journal.device.publicKey}/entries`,
    json: { entries },
    signer: journal.device,
  });
}

/** Appends n plain entries, one second apart. */
export function appendEntries(journal: TestJournal, n: number, type = 'test.event'): void {
  for (let i = 0; i < n; i++) {
    journal.tick();
    journal.store.append({ type, data: { n: i } });
  }
}

/**
 * Counts the entries the server hands to its signature checker (the real pool, wrapped), and
 * signals the first call: how tests see that no entry is verified twice.
 */
export function countChecks(server: TestServer): {
  readonly count: () => number;
  readonly started: Promise<void>;
  readonly restore: () => void;
} {
  const original = server.checker.check;
  let count = 0;
  let signal!: () => void;
  const started = new Promise<void>((resolve) => (signal = resolve));
  server.checker.check = (entries, anchored) => {
    count += entries.length;
    signal();
    return original.call(server.checker, entries, anchored);
  };
  return { count: () => count, started, restore: () => void (server.checker.check = original) };
}

/**
 * A founding `custodian.enrolled` right after `tip`, self-signed by the custodian's key and
 * device-signed by `deviceKey`: how tests offer a custodian key the journal must refuse.
 */
export function foundingEnrolment(tip: SignedEntry, custodianKey: EntrySigner, deviceKey: EntrySigner): SignedEntry {
  return signEntry(
    {
      v: 1,
      vault: tip.vault,
      device: tip.device,
      seq: tip.seq + 1,
      prev: tip.hash,
      time: tip.time + 1_000,
      type: 'custodian.enrolled',
      actor: 'mallory',
      data: {
        custodian: 'mallory',
        signingKey: custodianKey.publicKey,
        name: 'Mallory',
        organisation: 'acme',
        role: 'admin',
        founding: true,
      },
    },
    [deviceKey, custodianKey],
  );
}

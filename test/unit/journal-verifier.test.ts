import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { signEntry, type SignedEntry } from '../../shared/journal/entry';
import { ChainVerifier, verifyEntries, type ChainState } from '../../shared/journal/verifier';
import { TestJournal, seededSigner } from '../support/journal-builder';

const open: TestJournal[] = [];
const journal = (options?: ConstructorParameters<typeof TestJournal>[0]): TestJournal => {
  const j = new TestJournal(options);
  open.push(j);
  return j;
};
const codes = (entries: Iterable<unknown>, options?: Parameters<typeof verifyEntries>[1]): string[] =>
  verifyEntries(entries, options).failures.map((f) => f.code);

/** Re-signs a body with the given keys (what an attacker holding those keys could do). */
const resign = (entry: SignedEntry, changes: Partial<SignedEntry>, signers = [seededSigner(1)]): SignedEntry =>
  signEntry({ ...entry, ...changes }, signers);

beforeAll(async () => {
  await sodiumReady();
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
});

describe('ChainVerifier', () => {
  it('accepts an untouched journal with custodians, sessions, checkpoints and a key rotation', () => {
    const j = journal({ checkpointEvery: 4 });
    j.store.append({ type: 'session.started', data: {} });
    const alice = j.enrol('alice', 2);
    for (let i = 0; i < 10; i++) {
      j.tick();
      j.store.append({ type: 'checkout.opened', actor: alice, account: '123456789012', data: { i } });
    }
    j.store.rotateDeviceKey(seededSigner(7));
    j.store.append({ type: 'checkout.closed', actor: alice, data: {} });
    j.store.append({ type: 'session.ended', data: {} });
    j.store.checkpoint();
    const report = verifyEntries(j.entries(), { requireFinalCheckpoint: true, expectHead: j.store.head() ?? undefined });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(j.store.size());
    expect(report.lastCheckpoint?.seq).toBe(j.store.head()?.seq);
  });

  it('resumes from a JSON round-tripped state with the same result', () => {
    const j = journal({ checkpointEvery: 3 });
    const alice = j.enrol('alice', 2);
    for (let i = 0; i < 9; i++) j.store.append({ type: 'a.b', actor: alice, data: { i } });
    const all = [...j.entries()];
    const first = new ChainVerifier();
    all.slice(0, 6).forEach((e) => first.push(e));
    const saved = JSON.parse(JSON.stringify(first.state())) as ChainState;
    const second = new ChainVerifier({ state: saved });
    for (const e of all.slice(6)) expect(second.push(e)).toEqual([]);
    const report = second.finish({ expectHead: j.store.head() ?? undefined });
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(all.length);
  });

  it('works on its own copy of the state: a state it was given or handed out does not change as it goes on', () => {
    // The verifier updates its working state in place per entry; the server keeps one saved
    // state per device and the bundle verifier reads state() midway, so neither may move.
    const j = journal({ checkpointEvery: 3 });
    j.store.append({ type: 'session.started', data: {} });
    const alice = j.enrol('alice', 2);
    for (let i = 0; i < 4; i++) j.store.append({ type: 'a.b', actor: alice, data: { i } });
    j.store.append({ type: 'custodian.revoked', data: { signingKey: alice.signer.publicKey } });
    j.store.append({ type: 'session.ended', data: {} });
    j.store.checkpoint();
    const all = [...j.entries()];
    const first = new ChainVerifier();
    all.slice(0, 3).forEach((e) => first.push(e));
    const given = first.state();
    const givenText = JSON.stringify(given);
    const second = new ChainVerifier({ state: given });
    const midway = second.state();
    const midwayText = JSON.stringify(midway);
    for (const e of all.slice(3)) expect(second.push(e)).toEqual([]);
    all.slice(3).forEach((e) => first.push(e));
    expect(JSON.stringify(given)).toBe(givenText);
    expect(JSON.stringify(midway)).toBe(midwayText);
    // Both went on to the same end: the key revoked, the session closed, a checkpoint taken.
    const end = second.state();
    expect(end).toEqual(first.state());
    expect(end.keys[alice.signer.publicKey]?.revokedAt).toBe(all.findIndex((e) => e.type === 'custodian.revoked'));
    expect(end.inSession).toBe(false);
    expect(end.sinceCheckpoint).toBe(0);
    expect(given.keys[alice.signer.publicKey]?.revokedAt ?? null).toBeNull();
  });

  it('names unknown, revoked and missing custodian signatures', () => {
    const j = journal();
    const alice = j.enrol('alice', 2);
    const mallory = { id: 'alice', signer: seededSigner(66) };
    j.store.append({ type: 'checkout.opened', actor: mallory, data: {} });
    j.store.append({ type: 'custodian.revoked', data: { signingKey: alice.signer.publicKey } });
    j.store.append({ type: 'checkout.opened', actor: alice, data: {} });
    const failures = verifyEntries(j.entries()).failures;
    expect(failures).toEqual([
      expect.objectContaining({ seq: 2, code: 'UNKNOWN_KEY' }),
      expect.objectContaining({ seq: 2, code: 'MISSING_ACTOR_SIGNATURE' }),
      expect.objectContaining({ seq: 4, code: 'REVOKED_KEY' }),
    ]);
  });

  it('refuses the old device key after a rotation and a rotation without the new key', () => {
    const j = journal();
    const rotated = j.store.rotateDeviceKey(seededSigner(7));
    const after = j.store.append({ type: 'a.b', data: {} });
    const all = [...j.entries()];
    const byOldKey = resign(after, {}, [seededSigner(1)]);
    expect(codes([...all.slice(0, -1), byOldKey])).toEqual(['MISSING_DEVICE_SIGNATURE']);
    const onlyOld = resign(rotated, {}, [seededSigner(1)]);
    expect(codes([all[0]!, onlyOld])).toEqual(['MISSING_DEVICE_SIGNATURE']);
  });

  it('fails MISSING_CHECKPOINT when more than N entries pass without a checkpoint', () => {
    const j = journal({ checkpointEvery: 3 });
    for (let i = 0; i < 6; i++) j.store.append({ type: 'a.b', data: { i } });
    const all = [...j.entries()];
    // Rebuild the chain without its checkpoints, re-signed by the device key: links and
    // signatures are perfect, only the checkpoint rule is broken.
    let prev = all[0]!;
    const stripped: SignedEntry[] = [prev];
    for (const e of all.slice(1).filter((x) => x.type !== 'checkpoint')) {
      prev = resign(e, { seq: prev.seq + 1, prev: prev.hash });
      stripped.push(prev);
    }
    expect(codes(stripped)).toEqual(['MISSING_CHECKPOINT']);
  });

  it('allows offline gaps between sessions but not inside one, unless the app resumed from suspend', () => {
    const j = journal({ heartbeatMs: 1_000 });
    j.store.append({ type: 'session.started', data: {} });
    j.tick(500);
    j.store.checkpoint({ heartbeat: true });
    j.store.append({ type: 'session.ended', data: {} });
    j.tick(86_400_000);
    j.store.append({ type: 'session.started', data: {} });
    j.tick(60_000);
    j.store.append({ type: 'session.resumed', data: { suspendedMs: 60_000 } });
    expect(codes(j.entries())).toEqual([]);
    j.tick(5_000);
    j.store.append({ type: 'checkout.opened', data: {} });
    const failures = verifyEntries(j.entries()).failures;
    expect(failures).toEqual([expect.objectContaining({ code: 'MISSING_CHECKPOINT', seq: j.store.head()?.seq })]);
  });

  it('flags a live session whose last entry is older than the heartbeat allows, and a wrong head', () => {
    const j = journal({ heartbeatMs: 1_000 });
    j.store.append({ type: 'session.started', data: {} });
    const head = j.store.head()!;
    expect(codes(j.entries(), { now: j.clock + 1_500 })).toEqual([]);
    expect(codes(j.entries(), { now: j.clock + 10_000 })).toEqual(['TRUNCATED_TAIL']);
    expect(codes(j.entries(), { expectHead: { seq: head.seq + 2, hash: head.hash } })).toEqual(['TRUNCATED_TAIL']);
    expect(codes(j.entries(), { expectHead: { seq: head.seq, hash: '0'.repeat(64) } })).toEqual(['FORK']);
    expect(codes(j.entries(), { anchors: [{ seq: 1, hash: 'f'.repeat(64) }] })).toEqual(['FORK']);
  });

  it('reports malformed input by field instead of throwing', () => {
    const j = journal();
    const [genesis] = [...j.entries()];
    expect(codes([{ ...genesis, extra: 1 }])[0]).toBe('MALFORMED_ENTRY');
    expect(codes(['not an entry'])[0]).toBe('MALFORMED_ENTRY');
    expect(codes([{ ...genesis, data: { ...genesis!.data, ratio: 0.5 } }])).toContain('MALFORMED_ENTRY');
    expect(codes([])).toEqual(['EMPTY_JOURNAL']);
  });
});

describe('startHeartbeat', () => {
  it('keeps a quiet session verifiable, and ends it with session.ended and a checkpoint', async () => {
    const { startHeartbeat } = await import('../../electron/journal/heartbeat');
    const j = journal({ heartbeatMs: 40 });
    const realClock = (): number => Date.now();
    const store = (await import('../../electron/journal/store')).JournalStore.open(j.db, { deviceSigner: j.device, now: realClock });
    const session = startHeartbeat(store, 40, { now: realClock });
    await new Promise((r) => setTimeout(r, 300));
    const live = [...store.read({})];
    expect(live.filter((e) => e.type === 'checkpoint' && e.data.heartbeat === true).length).toBeGreaterThanOrEqual(2);
    expect(verifyEntries(live, { now: Date.now() }).failures).toEqual([]);
    session.stop();
    const all = [...store.read({})];
    expect(all.slice(-2).map((e) => e.type)).toEqual(['session.ended', 'checkpoint']);
    // Once ended, an idle journal is not a truncated one.
    expect(verifyEntries(all, { now: Date.now() + 3_600_000, requireFinalCheckpoint: true }).failures).toEqual([]);
  });
});

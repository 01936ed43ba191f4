import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { JournalService } from '../../electron/journal/journal-service';
import { TestJournal } from '../support/journal-builder';

const H = 60_000;
const open: { j: TestJournal; service: JournalService }[] = [];

beforeAll(async () => {
  await sodiumReady();
});
afterEach(() => {
  for (const { j, service } of open.splice(0)) {
    service.detach();
    j.close();
  }
});

function attached(options: { heartbeat?: boolean } = {}) {
  const j = new TestJournal({ heartbeatMs: H, checkpointEvery: 256 });
  const service = new JournalService();
  open.push({ j, service });
  service.attach(j.store, j.device, options.heartbeat ? { heartbeat: true, heartbeatMs: H } : {});
  return { j, service };
}

/** A receipt whose only use here is as an anchor: the hash the server holds for one seq. */
function receipt(j: TestJournal, seq: number, entryHash: string): void {
  j.store.addReceipt({
    device: j.device.publicKey,
    seq,
    entryHash,
    logIndex: seq,
    treeHead: { size: seq + 1 },
    inclusionProof: [],
    serverKey: 'f'.repeat(64),
    signature: '0'.repeat(128),
  });
}

describe('JournalService.verify (the in-app verify)', () => {
  it('checks every receipt as an anchor across a journal longer than one verify window', () => {
    const { j, service } = attached();
    const batch = Array.from({ length: 1_000 }, (_, i) => ({ type: 'checkout.opened', data: { i } }));
    for (let k = 0; k < 10; k++) j.store.appendBatch(batch);
    j.store.appendBatch(batch.slice(0, 20));
    const size = j.store.size();
    expect(size).toBeGreaterThan(10_000);
    const entries = [...j.entries()];
    for (const seq of [3, 9_999, 10_000, size - 1]) receipt(j, seq, entries[seq]!.hash);
    expect(service.verify()).toMatchObject({ ok: true, failureCount: 0, receiptsChecked: 4, entries: size });
    // The server holding another hash is a FORK, in the first window and in the last alike.
    for (const seq of [5, size - 2]) receipt(j, seq, 'a'.repeat(64));
    const report = service.verify();
    expect(report.receiptsChecked).toBe(6);
    expect(report.failures.map((f) => [f.seq, f.code])).toEqual([
      [5, 'FORK'],
      [size - 2, 'FORK'],
    ]);
    expect(report.failureCount).toBe(2);
  });

  it('writes a due heartbeat before judging a live tail, so a verify that runs before the late timer is not TRUNCATED_TAIL', () => {
    // The session started three intervals ago by the journal's clock and the timer has not run since
    // (the machine slept); the heartbeat itself reads the wall clock.
    const j0 = Date.now() - 3 * H;
    const { j, service } = (() => {
      const t = new TestJournal({ heartbeatMs: H });
      t.clock = j0;
      const s = new JournalService();
      open.push({ j: t, service: s });
      s.attach(t.store, t.device, { heartbeat: true, heartbeatMs: H });
      return { j: t, service: s };
    })();
    j.clock = Date.now();
    const report = service.verify(j.clock);
    expect(report.failures).toEqual([]);
    expect([...j.entries()].slice(-2).map((e) => e.type)).toEqual(['session.resumed', 'checkpoint']);
  });
});

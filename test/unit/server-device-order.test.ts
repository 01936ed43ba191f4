import { describe, expect, it } from 'vitest';
import { DeviceOrder } from '../../server/ingest';

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
};

describe('DeviceOrder (one device’s batches enter storage in arrival order)', () => {
  it('says when a batch repeats seqs of one still in the line (sent again after the client gave up on it), and forgets once the line empties', () => {
    const order = new DeviceOrder();
    const a = order.enter('d1', { firstSeq: 0, lastSeq: 99 });
    const b = order.enter('d1', { firstSeq: 100, lastSeq: 199 });
    const again = order.enter('d1', { firstSeq: 100, lastSeq: 199 });
    const other = order.enter('d2', { firstSeq: 0, lastSeq: 5 });
    expect([a.overlaps, b.overlaps, again.overlaps, other.overlaps]).toEqual([false, false, true, false]);
    for (const t of [a, b, again, other]) t.leave();
    // A new line starts empty: the same seqs later are no overlap.
    const later = order.enter('d1', { firstSeq: 100, lastSeq: 150 });
    expect(later.overlaps).toBe(false);
    later.leave();
    expect(order.size).toBe(0);
  });

  it('lets a batch go once every earlier batch of its device has left, whatever order they finish in', async () => {
    const order = new DeviceOrder();
    const a = order.enter('d1');
    const b = order.enter('d1');
    const c = order.enter('d1');
    const other = order.enter('d2');
    expect([a.first, b.first, c.first, other.first]).toEqual([true, false, false, true]);
    expect(await settled(a.before)).toBe(true);
    expect(await settled(other.before)).toBe(true);
    expect(await settled(b.before)).toBe(false);
    // c was checked first but still waits for a and b.
    expect(await settled(c.before)).toBe(false);
    a.leave();
    expect(await settled(b.before)).toBe(true);
    expect(await settled(c.before)).toBe(false);
    b.leave();
    expect(await settled(c.before)).toBe(true);
    c.leave();
    other.leave();
    expect(order.size).toBe(0);
  });

  it('releases the line when a batch fails, and forgets a device once its last batch leaves', async () => {
    const order = new DeviceOrder();
    const run = async (fail: boolean): Promise<string> => {
      const turn = order.enter('d1');
      try {
        await turn.before;
        if (fail) throw new Error('refused');
        return 'stored';
      } finally {
        turn.leave();
      }
    };
    const results = await Promise.allSettled([run(true), run(false), run(true), run(false)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect(order.size).toBe(0);
    expect(order.enter('d1').first).toBe(true);
  });
});

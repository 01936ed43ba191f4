import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sodiumReady } from '../../shared/sodium';
import { verifyEntries } from '../../shared/journal/verifier';
import { startHeartbeat } from '../../electron/journal/heartbeat';
import { TestJournal } from '../support/journal-builder';

const H = 1_000;

beforeAll(async () => {
  await sodiumReady();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * A real journal, the real startHeartbeat and the real verifier. Only the timer is fake: a timer
 * that fires late (a short sleep, a blocked main thread) is the fault under test, and it cannot be
 * caused on demand for real. The journal's clock and the heartbeat's are the same injected clock.
 */
function session() {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  const j = new TestJournal({ heartbeatMs: H });
  const heartbeat = startHeartbeat(j.store, H, { now: () => j.clock });
  let lastTick = j.clock;
  return {
    j,
    heartbeat,
    /** The app writes an entry `after` ms past the last tick (while it runs on time). */
    appEntry(after: number): void {
      j.clock = lastTick + after;
      j.store.append({ type: 'checkout.opened', data: { at: after } });
    },
    /** The next tick fires `delay` ms after the previous one (H when on time). */
    tick(delay: number): void {
      lastTick += delay;
      j.clock = lastTick;
      vi.advanceTimersByTime(H);
    },
    failures: (now = j.clock) => verifyEntries(j.entries(), { now }).failures,
  };
}

describe('startHeartbeat under late timers', () => {
  // The audit's case: the last entry sits just under H/2 before a tick (no heartbeat due), and the
  // next tick is 1.5–2 intervals late: the gap since that entry passes 2·H although the timer was
  // not "more than two intervals late".
  for (const delay of [1.5 * H, 1.9 * H, 2.5 * H]) {
    it(`a tick ${delay / H}·H after the previous one, just under H/2 after an entry, still verifies`, () => {
      const s = session();
      try {
        s.tick(H);
        s.appEntry(H / 2 + 1);
        s.tick(H);
        expect(s.failures()).toEqual([]);
        s.tick(delay);
        expect(s.failures()).toEqual([]);
        const resumed = [...s.j.entries()].filter((e) => e.type === 'session.resumed');
        // The gap since the entry is 0.5·H - 1 + delay: past the limit, it is explained with its real length.
        if (H / 2 - 1 + delay > 2 * H) expect(resumed.map((e) => e.data.suspendedMs)).toEqual([H / 2 - 1 + delay]);
        s.heartbeat.stop();
        expect(verifyEntries(s.j.entries(), { now: s.j.clock + 3_600_000, requireFinalCheckpoint: true }).failures).toEqual([]);
      } finally {
        s.j.close();
      }
    });
  }

  it('an app entry written after a stall, before the late timer fires, is explained by session.resumed first', () => {
    const s = session();
    try {
      s.tick(H);
      // The process wakes 2.5 intervals after the last tick and handles an action before the timer runs.
      s.appEntry(2.5 * H);
      const types = [...s.j.entries()].map((e) => e.type);
      expect(types.slice(-2)).toEqual(['session.resumed', 'checkout.opened']);
      expect(s.failures()).toEqual([]);
      s.heartbeat.stop();
      expect(verifyEntries(s.j.entries(), { now: s.j.clock + 3_600_000, requireFinalCheckpoint: true }).failures).toEqual([]);
    } finally {
      s.j.close();
    }
  });

  it('never fails verification, whatever the ticks’ lateness and the app’s writes (fast-check)', () => {
    const step = fc.record({
      entries: fc.array(fc.integer({ min: 0, max: H - 1 }), { maxLength: 3 }),
      lateness: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 * H })),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), fc.integer({ min: 0, max: 5 * H }), (steps, beforeStop) => {
        const s = session();
        try {
          for (const { entries, lateness } of steps) {
            // The app writes while it runs on time, then the process stalls for `lateness`.
            for (const after of [...entries].sort((a, b) => a - b)) s.appEntry(after);
            s.tick(H + lateness);
            expect(s.failures()).toEqual([]);
          }
          // Closing after another stall (the vault closed before the timer ran) is explained too.
          s.j.clock += beforeStop;
          s.heartbeat.stop();
          expect(verifyEntries(s.j.entries(), { now: s.j.clock + 3_600_000, requireFinalCheckpoint: true }).failures).toEqual([]);
        } finally {
          s.heartbeat.stop();
          s.j.close();
          vi.useRealTimers();
        }
      }),
      { numRuns: 60 },
    );
  });
});

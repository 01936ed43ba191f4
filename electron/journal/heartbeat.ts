import { ENTRY_TYPES, HEARTBEAT_GRACE } from '../../shared/journal/entry-types';
import type { JournalStore } from './store';

/** A running session: call stop() at shutdown to close it cleanly. */
export interface JournalSession {
  /** Writes what is due now (a `session.resumed`, a heartbeat) without waiting for the timer; the in-app verify calls it first. */
  beat(): void;
  stop(reason?: string): void;
}

/**
 * Opens a journal session and keeps it provably live: writes `session.started`, then a heartbeat
 * checkpoint whenever the journal has been quiet for half an interval, so no two entries in the
 * session are further apart than the verifier allows (HEARTBEAT_GRACE intervals). When the next
 * entry would come later than that (the machine slept, or the main thread was blocked and the
 * timer fired late) it writes `session.resumed` first, with the real gap, which explains it.
 * The decision is made from the time since the last entry, never from how late the timer is: a
 * timer 1.9 intervals late after an entry written just before the previous tick is a gap of 2.4.
 * stop() writes `session.ended` and a closing checkpoint.
 */
export function startHeartbeat(
  store: JournalStore,
  intervalMs: number,
  options: { now?: () => number; data?: Record<string, string> } = {},
): JournalSession {
  const now = options.now ?? Date.now;
  store.append({ type: ENTRY_TYPES.sessionStarted, data: { ...options.data, heartbeatMs: intervalMs } });
  let stopped = false;
  const lastEntryTime = (): number => store.lastEntryTime() ?? 0;
  // The store stamps an entry with its own clock a moment after this decision; the margin keeps
  // a gap just under the limit here from landing just over it there. A normal quiet session
  // never comes near it (at most 1.5 intervals plus timer jitter).
  const resumeAfterMs = intervalMs * HEARTBEAT_GRACE - intervalMs / 4;
  // Before every entry (the heartbeat's own, and any the app writes: an action handled after a
  // wake-up, before the late timer) the store runs this check, which writes `session.resumed`
  // first when the entry would come too long after the last one. The store does not run it again
  // for the `session.resumed` written here.
  store.setBeforeWrite(() => {
    const gap = now() - lastEntryTime();
    if (gap > resumeAfterMs) store.append({ type: ENTRY_TYPES.sessionResumed, data: { suspendedMs: gap } });
  });
  const beat = (): void => {
    if (stopped) return;
    // Past the resume limit the gap is also past H/2: the checkpoint's check writes the resume.
    if (now() - lastEntryTime() >= intervalMs / 2) store.checkpoint({ heartbeat: true });
  };
  const timer = setInterval(beat, intervalMs);
  // The heartbeat must never keep a CLI process alive on its own.
  timer.unref();
  return {
    beat,
    stop(reason = 'shutdown') {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      // A session ended after a long pause says so first, like any other late entry (the check
      // runs before session.ended); the closing checkpoint comes after the session.
      store.append({ type: ENTRY_TYPES.sessionEnded, data: { reason } });
      store.setBeforeWrite(null);
      store.checkpoint();
    },
  };
}

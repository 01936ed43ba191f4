import { ENTRY_TYPES } from '../../../shared/journal/entry-types';
import type { JournalStore } from './store';

/** A running session: call stop() at shutdown to close it cleanly. */
export interface JournalSession {
  stop(reason?: string): void;
}

/**
 * Opens a journal session and keeps it provably live: writes `session.started`, then a heartbeat
 * checkpoint whenever the journal has been quiet for half an interval, so no two entries in the
 * session are further apart than the verifier allows. If the timer itself fires late (the machine
 * slept), it writes `session.resumed` first, which explains the gap. stop() writes
 * `session.ended` and a closing checkpoint.
 */
export function startHeartbeat(store: JournalStore, intervalMs: number, options: { now?: () => number; data?: Record<string, string> } = {}): JournalSession {
  const now = options.now ?? Date.now;
  store.append({ type: ENTRY_TYPES.sessionStarted, data: { ...options.data, heartbeatMs: intervalMs } });
  let lastTick = now();
  let stopped = false;
  const lastEntryTime = (): number => {
    const head = store.head();
    if (head === null) return 0;
    for (const e of store.read({ from: head.seq, to: head.seq })) return e.time;
    return 0;
  };
  const timer = setInterval(() => {
    const t = now();
    // A timer that fires more than two intervals late means the process did not run (sleep).
    if (t - lastTick > intervalMs * 2) store.append({ type: ENTRY_TYPES.sessionResumed, data: { suspendedMs: t - lastTick } });
    lastTick = t;
    if (t - lastEntryTime() >= intervalMs / 2) store.checkpoint({ heartbeat: true });
  }, intervalMs);
  // The heartbeat must never keep a CLI process alive on its own.
  timer.unref();
  return {
    stop(reason = 'shutdown') {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      store.append({ type: ENTRY_TYPES.sessionEnded, data: { reason } });
      store.checkpoint();
    },
  };
}

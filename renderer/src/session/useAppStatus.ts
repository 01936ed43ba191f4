import { useEffect, useState } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, AppStatus } from '../api/types';

/** How often the shell re-reads app:status. */
export const STATUS_POLL_MS = 3000;

/** The last app:status answer, or the error of the last failed call (the older status is kept). */
export interface StatusReading {
  readonly status: AppStatus | null;
  readonly error: ApiError | null;
}

async function readStatus(): Promise<{ ok: true; value: AppStatus } | { ok: false; error: ApiError }> {
  try {
    return await halfkey().appStatus({});
  } catch (error) {
    return { ok: false, error: { code: 'INTERNAL', message: error instanceof Error ? error.message : 'The status call failed.' } };
  }
}

/** Polls app:status every few seconds while mounted. */
export function useAppStatus(): StatusReading {
  const [reading, setReading] = useState<StatusReading>({ status: null, error: null });
  useEffect(() => {
    let live = true;
    const poll = async (): Promise<void> => {
      const result = await readStatus();
      if (!live) return;
      setReading((previous) => (result.ok ? { status: result.value, error: null } : { status: previous.status, error: result.error }));
    };
    void poll();
    const timer = window.setInterval(() => void poll(), STATUS_POLL_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, []);
  return reading;
}

import { useCallback, useEffect, useRef, useState } from 'react';
import { attempt } from './call';
import type { ApiError, ApiResult } from './types';

/** The last answer of a polled read, and a way to read again at once (after a change the page made). */
export interface Polled<T> {
  readonly value: T | null;
  readonly error: ApiError | null;
  readonly refresh: () => Promise<void>;
}

/**
 * Reads `read` now, whenever `key` changes, and every `periodMs`. An answer equal to the last one
 * leaves state alone, so a poll does not re-render a form someone is typing in. `read` must be
 * stable (a module-level function or a useCallback).
 */
export function usePolled<T>(read: () => Promise<ApiResult<T>>, key: string, periodMs: number): Polled<T> {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const last = useRef('');
  const refresh = useCallback(async () => {
    const result = await attempt(read);
    const seen = JSON.stringify(result);
    if (seen === last.current) return;
    last.current = seen;
    setValue(result.ok ? result.value : null);
    setError(result.ok ? null : result.error);
  }, [read]);
  useEffect(() => {
    void refresh();
    const timer = window.setInterval(() => void refresh(), periodMs);
    return () => window.clearInterval(timer);
  }, [refresh, key, periodMs]);
  return { value, error, refresh };
}

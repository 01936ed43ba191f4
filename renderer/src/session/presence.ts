import { useCallback, useRef, useState } from 'react';
import { attempt } from '../api/call';
import type { ApiResult, Custodian } from '../api/types';

/** A call waiting for its custodian's passphrase: run it again, or give up with the refusal. */
interface Waiting {
  readonly retry: () => void;
  readonly giveUp: () => void;
}

/**
 * Presence for one form: opening a half or proposing a change needs the custodian's passphrase
 * entered within the last minute (PRESENCE_REQUIRED otherwise). `attempt` runs a call like the
 * plain attempt(); on PRESENCE_REQUIRED it waits until PresencePrompt has unlocked the custodian
 * again, then runs the same call once more, so the form's own code reads one result either way.
 */
export interface PresenceGate {
  /** The custodian the calls are made as (`by`); their passphrase is asked for. */
  readonly custodian: Custodian | null;
  readonly attempt: <T>(call: () => Promise<ApiResult<T>>) => Promise<ApiResult<T>>;
  /** Whether a call is waiting for the passphrase (the prompt shows). */
  readonly waiting: boolean;
  /** The passphrase was accepted: run the waiting call again. */
  readonly resume: () => void;
  /** The person gave up: the waiting call ends with its PRESENCE_REQUIRED answer. */
  readonly cancel: () => void;
}

export function usePresenceGate(custodian: Custodian | null): PresenceGate {
  const waitingCall = useRef<Waiting | null>(null);
  const [waiting, setWaiting] = useState(false);
  const gated = useCallback(async <T>(call: () => Promise<ApiResult<T>>): Promise<ApiResult<T>> => {
    const first = await attempt(call);
    if (first.ok || first.error.code !== 'PRESENCE_REQUIRED') return first;
    // One prompt per form: a newer call replaces an older waiting one, which ends as refused.
    waitingCall.current?.giveUp();
    return new Promise<ApiResult<T>>((resolve) => {
      waitingCall.current = {
        retry: () => void gated(call).then(resolve),
        giveUp: () => resolve(first),
      };
      setWaiting(true);
    });
  }, []);
  const settle = (how: keyof Waiting): void => {
    const current = waitingCall.current;
    waitingCall.current = null;
    setWaiting(false);
    current?.[how]();
  };
  return { custodian, attempt: gated, waiting, resume: () => settle('retry'), cancel: () => settle('giveUp') };
}

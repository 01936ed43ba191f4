import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { useCountdown } from '../components/useCountdown';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';

interface Reading {
  readonly code: string;
  readonly validUntil: number;
  readonly period: number;
}

/** Groups a code for reading aloud: 123456 → "123 456". */
export function groupCode(code: string): string {
  return code.length === 6 ? `${code.slice(0, 3)} ${code.slice(3)}` : code;
}

/**
 * The current TOTP code of an MFA checkout and how long it stays valid, fetched again when the
 * period rolls over. Each new code is announced politely; the seconds tick silently. When the
 * custodian's presence has lapsed, the next code waits for their passphrase.
 */
export function TotpCode({ actor, checkoutId }: { readonly actor: Custodian; readonly checkoutId: string }): ReactElement {
  const [reading, setReading] = useState<Reading | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const presence = usePresenceGate(actor);
  const gated = presence.attempt;
  const by = actor.id;
  const fetchCode = useCallback(async () => {
    const result = await gated(() => halfkey().custodyTotpCode({ by, checkoutId }));
    if (!result.ok) {
      setReading(null);
      setError(result.error);
      return;
    }
    setError(null);
    // A little slack so the next fetch lands in the next period, not at its very edge.
    setReading({ code: result.value.code, validUntil: Date.now() + result.value.remainingMs + 150, period: result.value.period });
  }, [gated, by, checkoutId]);
  useEffect(() => {
    void fetchCode();
  }, [fetchCode]);
  const left = useCountdown(reading?.validUntil ?? null, () => void fetchCode());
  if (reading === null) {
    return (
      <>
        <PresencePrompt gate={presence} />
        <ErrorNotice error={error} />
      </>
    );
  }
  return (
    <div className="totp" role="group" aria-label="Current MFA code">
      <p className="totp-code" aria-live="polite" aria-atomic="true">
        <span className="visually-hidden">Current code </span>
        <code>{groupCode(reading.code)}</code>
      </p>
      <p className="countdown" role="timer" aria-live="off">
        Valid for <span className="countdown-seconds">{left ?? 0}</span> s of {reading.period} s
      </p>
      <progress className="totp-progress" max={reading.period} value={left ?? 0} aria-label="Time left for this code" />
      <PresencePrompt gate={presence} />
      <ErrorNotice error={error} />
    </div>
  );
}

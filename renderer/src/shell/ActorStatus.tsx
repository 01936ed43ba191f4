import type { ReactElement } from 'react';
import type { Custodian } from '../api/types';
import { useCountdown } from '../components/useCountdown';
import { ChangePassphrase } from '../passphrase/ChangePassphrase';

/** m:ss, for the idle lock (minutes long); the presence window is short enough for plain seconds. */
function minutesSeconds(seconds: number): string {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * Who acts, and the two clocks the main process keeps for them: the presence window (opening a
 * half or proposing a change needs their passphrase within it) and the idle lock. The name is
 * announced when it changes; the clocks tick silently (role="timer").
 */
export function ActorStatus({ actor, onIdleLock }: { readonly actor: Custodian | null; readonly onIdleLock: () => void }): ReactElement {
  const present = useCountdown(actor?.presentUntil ?? null, () => undefined);
  // The main process locks them at this moment; reading the list again shows it.
  const idle = useCountdown(actor?.idleLocksAt ?? null, onIdleLock);
  return (
    <div className="acting">
      <p aria-live="polite">{actor === null ? 'Nobody acting' : `Acting as ${actor.name}`}</p>
      {actor !== null && (
        <p className="acting-timers">
          <span role="timer" aria-label="Presence" className={present === 0 ? 'presence-lapsed' : undefined}>
            {present === null || present === 0 ? (
              'Passphrase needed again'
            ) : (
              <>
                Present for <span className="countdown-seconds">{present}</span> s
              </>
            )}
          </span>
          <span role="timer" aria-label="Idle lock">
            Idle lock in <span className="countdown-seconds">{minutesSeconds(idle ?? 0)}</span>
          </span>
        </p>
      )}
      {actor !== null && <ChangePassphrase key={actor.id} actor={actor} />}
    </div>
  );
}

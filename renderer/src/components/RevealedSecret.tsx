import type { ReactElement } from 'react';
import { useCountdown } from './useCountdown';

/**
 * A secret on screen until `expiresAt`, with a visible countdown. When the time is up, `onHide`
 * runs and the parent drops the secret from its state. Not selectable by autofill, never logged.
 */
export function RevealedSecret(props: {
  readonly label: string;
  readonly secret: string;
  readonly expiresAt: number;
  readonly onHide: () => void;
}): ReactElement {
  const left = useCountdown(props.expiresAt, props.onHide) ?? 0;
  return (
    <div className="revealed" role="group" aria-label={props.label}>
      <p className="revealed-secret">
        <code>{props.secret}</code>
      </p>
      <p className="countdown" role="timer" aria-live="off">
        Hidden in <span className="countdown-seconds">{left}</span> s
      </p>
      <button type="button" onClick={props.onHide}>
        Hide now
      </button>
    </div>
  );
}

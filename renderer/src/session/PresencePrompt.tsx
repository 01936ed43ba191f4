import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { useCountdown } from '../components/useCountdown';
import type { PresenceGate } from './presence';
import { useSessionContext } from './session';
import { usePassphraseUnlock } from './usePassphraseUnlock';

/** Seconds a passphrase counts as presence (the vault's PRESENCE_WINDOW_MS), for the prompt's words. */
const PRESENCE_SECONDS = 60;

/** The presence window after the prompt's unlock, counted down where the person is looking. */
function PresenceLeft({ name, until, onEnd }: { readonly name: string; readonly until: number; readonly onEnd: () => void }): ReactElement {
  const left = useCountdown(until, onEnd) ?? 0;
  return (
    <p className="countdown" role="timer" aria-live="off">
      {name}&apos;s passphrase counts for <span className="countdown-seconds">{left}</span> s more
    </p>
  );
}

/**
 * Shown beside the form whose call answered PRESENCE_REQUIRED: the custodian types their
 * passphrase (custodian:unlock, which restarts the presence window), then the call runs again.
 * The passphrase is cleared after every attempt; wrong ones and the back-off come back as the
 * vault's message.
 */
export function PresencePrompt({ gate }: { readonly gate: PresenceGate }): ReactElement | null {
  const session = useSessionContext();
  const custodian = gate.custodian;
  const entry = usePassphraseUnlock(custodian?.id ?? null);
  const [presentUntil, setPresentUntil] = useState<number | null>(null);
  const form = useRef<HTMLFormElement>(null);
  // The prompt appears where the person just pressed a button: their next keystrokes go to it.
  useEffect(() => {
    if (gate.waiting) form.current?.querySelector('input')?.focus();
  }, [gate.waiting]);
  const name = custodian?.name ?? '';
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const unlocked = await entry.unlock();
    if (unlocked === null) return;
    setPresentUntil(unlocked.presentUntil);
    gate.resume();
    await session.refresh();
  };
  if (!gate.waiting || custodian === null) {
    return presentUntil === null ? null : <PresenceLeft name={name} until={presentUntil} onEnd={() => setPresentUntil(null)} />;
  }
  const title = `Enter ${name}'s passphrase to continue`;
  // A form of its own, placed beside (never inside) the form whose call it completes.
  return (
    <form ref={form} noValidate className="presence inline-form" aria-label={title} onSubmit={(event) => void submit(event)}>
      <p className="presence-title">{title}</p>
      <p className="muted">
        Opening a half or proposing a change needs {name} at the keyboard: their passphrase counts for {PRESENCE_SECONDS} s.
      </p>
      <Field label={`${name}'s passphrase`} type="password" value={entry.passphrase} onChange={entry.setPassphrase} required />
      <div className="actions">
        <button type="submit" className="primary" disabled={entry.working}>
          {entry.working ? 'Checking…' : 'Continue'}
        </button>
        <button
          type="button"
          onClick={() => {
            entry.reset();
            gate.cancel();
          }}
        >
          Cancel
        </button>
      </div>
      <ErrorNotice error={entry.error} />
    </form>
  );
}

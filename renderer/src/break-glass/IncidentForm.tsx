import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { AccountSelect, useAccountChoice } from './AccountChoice';
import { Field } from '../components/Field';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';

const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
type Severity = (typeof SEVERITIES)[number];
const LEASES = [30, 60, 120, 240] as const;

/**
 * Step 0: the incident. The acting custodian (a holder of one of the account's halves, or an admin)
 * names the account, the incident's reference, why the root user is needed and how severe it is.
 * The main process checks everything again; its refusals show here in its words.
 */
export function IncidentForm({
  actor,
  onOpened,
}: {
  readonly actor: Custodian;
  readonly onOpened: (sessionId: string) => void;
}): ReactElement {
  const account = useAccountChoice('break-glass-accounts');
  const [reference, setReference] = useState('');
  const [reason, setReason] = useState('');
  const [severity, setSeverity] = useState<Severity>('critical');
  const [lease, setLease] = useState<number>(60);
  const [error, setError] = useState<ApiError | null>(null);
  const presence = usePresenceGate(actor);
  const chosen = account.chosen;
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (chosen === '') {
      setError({ code: 'INVALID_PAYLOAD', message: 'Choose the account whose root user you need.' });
      return;
    }
    const result = await presence.attempt(() =>
      halfkey().breakGlassOpen({ by: actor.id, accountId: chosen, incident: { reference, reason, severity }, leaseMinutes: lease }),
    );
    setError(result.ok ? null : result.error);
    if (result.ok) onOpened(result.value.sessionId);
  };
  return (
    <section className="panel" aria-labelledby="break-glass-open-heading">
      <h3 id="break-glass-open-heading">Open a break-glass session</h3>
      <p className="muted">
        Both custodians must be here, at this workstation: the password custodian and, for the second step, a different person holding the
        MFA half. No server is needed. Every step is signed into the journal.
      </p>
      <form noValidate className="form" aria-label="Incident" onSubmit={(event) => void submit(event)}>
        <AccountSelect id="break-glass-account" choice={account} />
        <Field
          label="Incident reference"
          value={reference}
          onChange={setReference}
          required
          hint="The ticket or incident id, e.g. INC-1234."
        />
        <Field
          label="Why the root user is needed"
          value={reason}
          onChange={setReason}
          required
          hint="What is broken and why no administrator can fix it. Recorded in the journal."
        />
        <div className="field">
          <label htmlFor="break-glass-severity">Severity</label>
          <select id="break-glass-severity" value={severity} onChange={(event) => setSeverity(event.target.value as Severity)}>
            {SEVERITIES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="break-glass-lease">Each half is out for</label>
          <select id="break-glass-lease" value={lease} onChange={(event) => setLease(Number(event.target.value))}>
            {LEASES.map((m) => (
              <option key={m} value={m}>
                {m} minutes
              </option>
            ))}
          </select>
        </div>
        <ErrorNotice error={error} />
        <button type="submit" className="primary">
          Open break-glass session
        </button>
      </form>
      <PresencePrompt gate={presence} />
      <ErrorNotice error={account.error} />
    </section>
  );
}

import { useState, type FormEvent, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { POLICY_LIMITS } from '../../../shared/policy/vault-policy';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { usePolled } from '../api/usePolled';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import type { Session } from '../session/session';

type Policy = ResponseOf<'policy:show'>;

const read = () => halfkey().policyShow({});

/** Whole minutes, or null when the text is not a whole number within the bounds (in seconds). */
function minutes(text: string, bounds: { readonly min: number; readonly max: number }): number | null {
  if (!/^\d{1,6}$/.test(text.trim())) return null;
  const seconds = Number(text.trim()) * 60;
  return seconds >= bounds.min && seconds <= bounds.max ? seconds : null;
}

/** An acting admin proposes a new policy; only what differs from the policy in force is proposed. */
function PolicyChangeForm(props: {
  readonly admin: Custodian;
  readonly policy: Policy;
  readonly onProposed: () => Promise<void>;
}): ReactElement {
  const { policy } = props;
  const [separate, setSeparate] = useState(policy.separateOrganisations);
  const [lease, setLease] = useState(String(policy.maxLeaseSeconds / 60));
  const [idle, setIdle] = useState(String(policy.idleLockSeconds / 60));
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const presence = usePresenceGate(props.admin);
  const leaseSeconds = minutes(lease, POLICY_LIMITS.maxLeaseSeconds);
  const idleSeconds = minutes(idle, POLICY_LIMITS.idleLockSeconds);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    if (leaseSeconds === null || idleSeconds === null) return;
    const change = {
      ...(separate === policy.separateOrganisations ? {} : { separateOrganisations: separate }),
      ...(leaseSeconds === policy.maxLeaseSeconds ? {} : { maxLeaseSeconds: leaseSeconds }),
      ...(idleSeconds === policy.idleLockSeconds ? {} : { idleLockSeconds: idleSeconds }),
    };
    if (Object.keys(change).length === 0) {
      setDone(null);
      setError({ code: 'INVALID_PAYLOAD', message: 'Nothing differs from the policy in force.' });
      return;
    }
    const result = await presence.attempt(() => halfkey().policyChange({ by: props.admin.id, ...change }));
    setError(result.ok ? null : result.error);
    if (!result.ok) return;
    setDone(`Proposed: ${result.value.proposal.summary}. It applies when a second custodian approves it under Proposals.`);
    await props.onProposed();
  };
  return (
    <section className="panel" aria-labelledby="policy-change-heading">
      <h2 id="policy-change-heading">Propose a policy change</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <div className="check">
          <input id="policy-separate" type="checkbox" checked={separate} onChange={(event) => setSeparate(event.target.checked)} />
          <label htmlFor="policy-separate">Separate organisations (rule 3)</label>
        </div>
        <Field
          label="Longest lease (minutes)"
          value={lease}
          onChange={setLease}
          inputMode="numeric"
          required
          problem={leaseSeconds === null ? 'A whole number of minutes from 1 to 10080 (7 days).' : null}
        />
        <Field
          label="Idle lock (minutes)"
          value={idle}
          onChange={setIdle}
          inputMode="numeric"
          required
          problem={idleSeconds === null ? 'A whole number of minutes from 1 to 60.' : null}
        />
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={presence.waiting || leaseSeconds === null || idleSeconds === null}>
          Propose policy change
        </button>
      </form>
      <PresencePrompt gate={presence} />
    </section>
  );
}

/** The vault policy in force, and (for an acting admin) a form to propose a change. */
export function PolicyView({ session }: { readonly session: Session }): ReactElement {
  const polled = usePolled(read, session.actor?.id ?? '', 10_000);
  const policy = polled.value;
  const admin = session.actor?.role === 'admin' ? session.actor : null;
  return (
    <>
      <section className="panel" aria-labelledby="policy-heading">
        <h2 id="policy-heading">Vault policy</h2>
        <ErrorNotice error={polled.error} />
        {policy !== null && (
          <dl className="facts">
            <dt>Separate organisations (rule 3)</dt>
            <dd>{policy.separateOrganisations ? 'On' : 'Off'}</dd>
            <dt>Longest lease</dt>
            <dd>{policy.maxLeaseSeconds / 60} minutes</dd>
            <dt>Idle lock</dt>
            <dd>{policy.idleLockSeconds / 60} minutes</dd>
          </dl>
        )}
        <p className="muted">Every change is proposed by an admin and applies only when a second custodian approves it.</p>
      </section>
      {admin !== null && policy !== null && (
        <PolicyChangeForm key={JSON.stringify(policy)} admin={admin} policy={policy} onProposed={polled.refresh} />
      )}
    </>
  );
}

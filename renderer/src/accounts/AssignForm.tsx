import { useState, type FormEvent, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Custodian } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import { ROLE_LABELS } from '../session/session';
import { proposedOutcome } from './proposed';

const ITEMS = ['password', 'mfa', 'email', 'phone'] as const;
type Item = (typeof ITEMS)[number];

/**
 * The admin proposes assigning a custody item to a custodian; a second custodian approves it under
 * Proposals (if they hold the half, their key re-seals it to the newcomer then). The four-eyes
 * policy decides in the main process, at proposal and again at approval; a refusal shows its rule
 * and item.
 */
export function AssignForm(props: {
  readonly admin: Custodian;
  readonly account: Account;
  readonly custodians: readonly Custodian[];
  readonly onAssigned: () => Promise<void>;
}): ReactElement {
  const candidates = props.custodians.filter((c) => !c.revoked);
  const [item, setItem] = useState<Item>('password');
  const [custodianId, setCustodianId] = useState(candidates[0]?.id ?? '');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const presence = usePresenceGate(props.admin);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setDone(null);
    const result = await presence.attempt(() =>
      halfkey().custodyAssign({ by: props.admin.id, accountId: props.account.accountId, item, custodianId }),
    );
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    setDone(proposedOutcome(result.value.proposal.summary));
    await props.onAssigned();
  };
  return (
    <section className="panel" aria-labelledby="assign-heading">
      <h2 id="assign-heading">Assign a custody item</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <div className="field">
          <label htmlFor="assign-item">Item</label>
          <select id="assign-item" value={item} onChange={(event) => setItem(ITEMS.find((i) => i === event.target.value) ?? 'password')}>
            {ITEMS.map((i) => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="assign-custodian">Custodian</label>
          <select id="assign-custodian" value={custodianId} onChange={(event) => setCustodianId(event.target.value)}>
            {candidates.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} — {ROLE_LABELS[c.role]}, {c.organisation}
              </option>
            ))}
          </select>
        </div>
        <ErrorNotice error={error} />
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit" className="primary" disabled={custodianId === ''}>
          Propose assignment
        </button>
      </form>
      <PresencePrompt gate={presence} />
    </section>
  );
}

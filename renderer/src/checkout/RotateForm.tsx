import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { Account, ApiError, Custodian, Proposal } from '../api/types';
import { usePolled } from '../api/usePolled';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { RevealedSecret } from '../components/RevealedSecret';
import { usePresenceGate } from '../session/presence';
import { PresencePrompt } from '../session/PresencePrompt';
import { PasswordRotationSteps, type RotationStage } from './PasswordRotationSteps';
import { PendingRotation } from './PendingRotation';

/** How often the open confirmation of a pending rotation is looked for (approved or withdrawn elsewhere). */
const PROPOSALS_POLL_MS = 5000;

const readOpenProposals = () => halfkey().proposalList({ state: 'open' });

/** The open `rotation.confirmed` proposal of this half's pending generation, if any. */
function confirmationOf(proposals: readonly Proposal[], accountId: string, item: string, generation: number | null): Proposal | null {
  if (generation === null) return null;
  return (
    proposals.find(
      (p) => p.type === 'rotation.confirmed' && p.account === accountId && p.change.item === item && p.change.generation === generation,
    ) ?? null
  );
}

/**
 * Two-phase rotation by a custodian assigned the half. Rotate writes a *pending* generation while
 * the current one stays in use: a password rotation generates the new password and shows it once,
 * for a limited time, to set at AWS; an MFA rotation takes the seed of the re-registered device.
 * Then the custodian of the half confirms that AWS took it (a proposal), and a second custodian
 * approves under Proposals; or the rotation is abandoned. A rotation pending when the screen opens
 * is read from the account (`pendingGeneration`).
 */
export function RotateForm(props: {
  readonly actor: Custodian;
  readonly account: Account;
  readonly item: 'password' | 'mfa';
  readonly onChanged: () => Promise<void>;
}): ReactElement {
  const { actor, account, item } = props;
  const accountId = account.accountId;
  const half = item === 'password' ? account.password : account.mfa;
  const current = half?.generation ?? 0;
  const pending = half?.pendingGeneration ?? null;
  const [length, setLength] = useState('32');
  const [seed, setSeed] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The new password lives here only while it is on screen; onHide sets it back to null.
  const [shown, setShown] = useState<{ readonly password: string; readonly expiresAt: number } | null>(null);
  const presence = usePresenceGate(actor);
  const proposals = usePolled(readOpenProposals, `${accountId}:${item}:${pending ?? ''}`, PROPOSALS_POLL_MS);
  const confirmation = confirmationOf(proposals.value?.proposals ?? [], accountId, item, pending);
  const stage: RotationStage = pending === null ? 'start' : confirmation === null ? 'pending' : 'proposed';

  const rotate = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setOutcome(null);
    const base = { by: actor.id, accountId, item, seconds: 60 };
    let request: Parameters<ReturnType<typeof halfkey>['custodyRotate']>[0];
    if (item === 'password') {
      const n = Number(length);
      if (!Number.isInteger(n) || n < 8 || n > 128) {
        setError({ code: 'INVALID_PAYLOAD', message: 'The password length must be a whole number from 8 to 128.' });
        return;
      }
      request = { ...base, password: { length: n } };
    } else {
      request = { ...base, seed };
      setSeed('');
    }
    const result = await presence.attempt(() => halfkey().custodyRotate(request));
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    const { password, expiresAt, generation, retiredGeneration } = result.value;
    setShown(password !== null && expiresAt !== null ? { password, expiresAt } : null);
    const next =
      item === 'password'
        ? 'Set the new password at AWS now, while it is shown; then confirm it below.'
        : 'Once AWS has accepted the re-registered MFA device, confirm it below.';
    setOutcome(`Rotation pending: generation ${generation} pending, generation ${retiredGeneration} still in use. ${next}`);
    await props.onChanged();
  };

  const confirm = async (): Promise<void> => {
    setBusy(true);
    const result = await presence.attempt(() => halfkey().custodyRotationConfirm({ by: actor.id, accountId, item }));
    setBusy(false);
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    setOutcome(
      `Proposed: ${result.value.proposal.summary}. A second custodian must approve it under Proposals, with their own passphrase; until then generation ${current} stays in use.`,
    );
    await proposals.refresh();
  };

  const abandon = async (): Promise<void> => {
    setBusy(true);
    const result = await attempt(() => halfkey().custodyRotationAbandon({ by: actor.id, accountId, item }));
    setBusy(false);
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    setShown(null);
    setOutcome(`Abandoned: generation ${result.value.generation} dropped; generation ${current} stays in use.`);
    await Promise.all([props.onChanged(), proposals.refresh()]);
  };

  return (
    <section className="panel" aria-labelledby="rotate-heading">
      <h2 id="rotate-heading">Rotate the {item === 'password' ? 'password' : 'MFA'} half</h2>
      {item === 'password' && <PasswordRotationSteps account={account} stage={stage} current={current} />}
      {pending === null ? (
        <form noValidate className="form" onSubmit={(event) => void rotate(event)}>
          {item === 'password' ? (
            <Field
              label="New password length"
              value={length}
              onChange={setLength}
              inputMode="numeric"
              hint="Halfkey generates it and shows it once; set it at AWS while it is shown."
            />
          ) : (
            <Field
              label="New MFA seed (otpauth:// URI or base32)"
              type="password"
              value={seed}
              onChange={setSeed}
              required
              hint="From re-registering the virtual MFA device at AWS. Codes keep following the current seed until the rotation is confirmed and approved."
            />
          )}
          <button type="submit" className="primary">
            Rotate
          </button>
        </form>
      ) : (
        <PendingRotation
          item={item}
          current={current}
          pending={pending}
          proposal={confirmation}
          busy={busy}
          onConfirm={() => void confirm()}
          onAbandon={() => void abandon()}
        />
      )}
      <ErrorNotice error={error ?? proposals.error} />
      <p role="status" className="done">
        {outcome}
      </p>
      <PresencePrompt gate={presence} />
      {shown !== null && (
        <RevealedSecret label="New root password" secret={shown.password} expiresAt={shown.expiresAt} onHide={() => setShown(null)} />
      )}
    </section>
  );
}

import type { ReactElement } from 'react';
import type { Proposal } from '../api/types';
import { custodianLabel, useSessionContext } from '../session/session';

/**
 * A rotation written but not yet in force: the pending generation, the one still in use, and what
 * comes next — the custodian of the half confirms that AWS took the new secret (a proposal), a
 * second custodian approves it under Proposals, or the rotation is abandoned.
 */
export function PendingRotation(props: {
  readonly item: 'password' | 'mfa';
  readonly current: number;
  readonly pending: number;
  /** The open confirmation of this rotation, when one was proposed. */
  readonly proposal: Proposal | null;
  readonly busy: boolean;
  readonly onConfirm: () => void;
  readonly onAbandon: () => void;
}): ReactElement {
  const { custodians } = useSessionContext();
  const secret = props.item === 'password' ? 'password' : 'MFA seed';
  const uses = props.item === 'password' ? 'checkouts and reveals use it' : 'checkouts and codes use it';
  return (
    <div className="pending-rotation">
      <p className="notice">
        <strong>Rotation pending:</strong> generation {props.pending} pending, generation {props.current} still in use ({uses}) until the
        rotation is confirmed and a second custodian approves it.
      </p>
      {props.proposal === null ? (
        <p>Once AWS has taken the new {secret}, confirm it here. A second custodian then approves under Proposals.</p>
      ) : (
        <p>
          Confirmation proposed by {custodianLabel(custodians, props.proposal.proposer)}: a second custodian must approve it under Proposals
          with their own passphrase. Until then generation {props.current} stays in use.
        </p>
      )}
      <div className="actions">
        {props.proposal === null && (
          <button type="button" className="primary" onClick={props.onConfirm} disabled={props.busy}>
            Confirm the new secret is set at AWS
          </button>
        )}
        <button type="button" onClick={props.onAbandon} disabled={props.busy}>
          Abandon rotation
        </button>
      </div>
    </div>
  );
}

import { useEffect, useState, type ReactElement } from 'react';
import type { Proposal } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Facts } from '../components/Facts';
import { custodianLabel, type Session } from '../session/session';
import { ApproveForm } from './ApproveForm';
import type { OpenProposals } from './useOpenProposals';
import { WithdrawForm } from './WithdrawForm';

/** "23 h 59 min", "4 min", "30 s": how long a proposal can still be approved. */
export function timeLeft(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The wall clock, read again every `periodMs` (expiry is counted in minutes, not quarter seconds). */
function useNow(periodMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), periodMs);
    return () => window.clearInterval(timer);
  }, [periodMs]);
  return now;
}

function ProposalCard(props: {
  readonly proposal: Proposal;
  readonly session: Session;
  readonly now: number;
  readonly onDecided: (outcome: string) => Promise<void>;
}): ReactElement {
  const { proposal, session } = props;
  const headingId = `proposal-${proposal.id}`;
  // Withdrawing is the proposer's, while they act (the vault checks they are unlocked).
  const proposer = session.actor?.id === proposal.proposer ? session.actor : null;
  return (
    <section className="panel proposal" aria-labelledby={headingId}>
      <h2 id={headingId}>{proposal.summary}</h2>
      <Facts
        items={[
          { label: 'Proposed by', value: custodianLabel(session.custodians, proposal.proposer) },
          { label: 'Proposed at', value: new Date(proposal.proposedAt).toLocaleString() },
          { label: 'Expires in', value: timeLeft(proposal.expiresAt - props.now), title: new Date(proposal.expiresAt).toLocaleString() },
        ]}
      />
      <ApproveForm proposal={proposal} custodians={session.custodians} actor={session.actor} onApproved={props.onDecided} />
      {proposer !== null && <WithdrawForm proposal={proposal} proposer={proposer} onWithdrawn={props.onDecided} />}
    </section>
  );
}

/**
 * Proposals: the open two-person changes (enrolments, revocations, …). A second custodian
 * approves one with their own passphrase; the proposer may withdraw it.
 */
export function ProposalsView({ session, open }: { readonly session: Session; readonly open: OpenProposals }): ReactElement {
  const [outcome, setOutcome] = useState<string | null>(null);
  const now = useNow(15_000);
  const decided = async (message: string): Promise<void> => {
    setOutcome(message);
    await Promise.all([open.refresh(), session.refresh()]);
  };
  return (
    <>
      <section className="panel" aria-labelledby="proposals-heading">
        <h2 id="proposals-heading">Proposals</h2>
        <p className="muted">
          Changes of who holds what take two custodians: one proposes, a second approves with their own passphrase. A proposal nobody
          approves expires.
        </p>
        <ErrorNotice error={open.error} />
        <p role="status" className="done">
          {outcome}
        </p>
        <p className="muted">
          {open.proposals.length === 0
            ? 'No open proposals.'
            : open.proposals.length === 1
              ? '1 open proposal.'
              : `${open.proposals.length} open proposals.`}
        </p>
      </section>
      {open.proposals.map((p) => (
        <ProposalCard key={p.id} proposal={p} session={session} now={now} onDecided={decided} />
      ))}
    </>
  );
}

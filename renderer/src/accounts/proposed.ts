/** The summary of the proposal a custody change answered with (`{ proposal }`), or null when there is none. */
export function proposedSummary(answer: object): string | null {
  if (!('proposal' in answer)) return null;
  const proposal = answer.proposal;
  return typeof proposal === 'object' && proposal !== null && 'summary' in proposal && typeof proposal.summary === 'string'
    ? proposal.summary
    : null;
}

/** The words shown once a change is proposed rather than made. */
export function proposedOutcome(summary: string): string {
  return `Proposed: ${summary}. A second custodian approves it under Proposals.`;
}

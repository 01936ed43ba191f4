/**
 * The summary of the proposal a custody change answered with, or null when the change was applied
 * at once. Assignments are becoming two-person changes (custody:assign answering `{ proposal }`);
 * reading the answer through this keeps the page right before and after that change.
 */
export function proposedSummary(answer: object): string | null {
  if (!('proposal' in answer)) return null;
  const proposal = answer.proposal;
  return typeof proposal === 'object' && proposal !== null && 'summary' in proposal && typeof proposal.summary === 'string' ? proposal.summary : null;
}

/** The words shown once a change is proposed rather than made. */
export function proposedOutcome(summary: string): string {
  return `Proposed: ${summary}. A second custodian approves it under Proposals.`;
}

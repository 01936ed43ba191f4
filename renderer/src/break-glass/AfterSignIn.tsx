import type { ReactElement } from 'react';

/** What to do at AWS once signed in as root, in the order that gets administrators back and leaves root alone again. */
export function AfterSignIn(): ReactElement {
  return (
    <section className="panel" aria-labelledby="break-glass-after-heading">
      <h3 id="break-glass-after-heading">After signing in as root</h3>
      <ol>
        <li>Do only what the incident needs. Root activity is in CloudTrail; Reconcile matches it against this session.</li>
        <li>
          Restore administrator access: create a break-glass IAM role (or IAM user) with administrator access, or repair the one that was
          locked out.
        </li>
        <li>Fix the cause: correct or detach the service control policy (SCP) that locked administrators out, in AWS Organizations.</li>
        <li>Check that an administrator can sign in through the normal path, then sign out of the root user.</li>
        <li>Close this session with its outcome, then rotate both halves (below).</li>
      </ol>
    </section>
  );
}

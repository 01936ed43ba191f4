import { useId, type ReactElement, type ReactNode, type Ref } from 'react';
import { FindingTable } from './FindingTable';
import { ReportCounts } from './ReportCounts';
import { NotRead, RotationsNotSeen, UnusedCheckouts } from './ReportLists';
import { counted, type Finding, type ReconcileResult } from './reportTypes';

/** Rows a findings table shows; past that the page stays usable and the CSV holds every row. */
const ROWS_SHOWN = 500;

/** The verdict line: the root actions no checkout with both halves out explains, said first. */
export function verdictLine(report: ReconcileResult): string {
  const missing = report.summary.halfExplained + report.summary.unexplained;
  if (missing === 0)
    return 'Nothing unexplained: every root action in these logs falls in a checkout with both halves out or a break-glass session.';
  return `${counted(missing, 'root action')} not explained (${report.summary.halfExplained} half-explained, ${report.summary.unexplained} unexplained).`;
}

/** One group of the report: a heading, what a reviewer should do about it, and its table. */
function Group(props: {
  readonly title: string;
  readonly count: number;
  readonly advice: string;
  readonly children: ReactNode;
}): ReactElement | null {
  const id = useId();
  if (props.count === 0) return null;
  return (
    <section className="reconcile-group" aria-labelledby={id}>
      <h3 id={id}>
        {props.title} ({props.count.toLocaleString('en-US')})
      </h3>
      <p className="muted">{props.advice}</p>
      {props.children}
    </section>
  );
}

function Findings({ caption, findings }: { readonly caption: string; readonly findings: readonly Finding[] }): ReactElement {
  return (
    <>
      <FindingTable caption={caption} findings={findings.slice(0, ROWS_SHOWN)} />
      {findings.length > ROWS_SHOWN && (
        <p className="muted">
          Showing the first {ROWS_SHOWN} of {findings.length.toLocaleString('en-US')}; write the CSV for every one.
        </p>
      )}
    </>
  );
}

/**
 * The report of one run, the most serious group first: half-explained (the split itself failed),
 * unexplained, flagged, failed sign-ins, unused checkouts, rotations not seen, explained; then
 * the files and records not used. The advice lines are docs/reconciliation.md's, shortened.
 */
export function ReconcileReport({
  report,
  headingRef,
}: {
  readonly report: ReconcileResult;
  readonly headingRef: Ref<HTMLHeadingElement>;
}): ReactElement {
  const byVerdict = (verdict: Finding['verdict']): Finding[] => report.findings.filter((f) => f.verdict === verdict);
  const half = byVerdict('half-explained');
  const unexplained = byVerdict('unexplained');
  const flagged = report.findings.filter((f) => f.verdict === 'explained' && f.flags.length > 0);
  const explained = report.findings.filter((f) => f.verdict === 'explained' && f.flags.length === 0);
  const notRead = report.counts.filesBad + report.counts.filesIgnored + report.counts.skippedRecords;
  return (
    <section className="panel" aria-labelledby="reconcile-report-heading">
      <h2 id="reconcile-report-heading" ref={headingRef} tabIndex={-1}>
        Reconciliation report
      </h2>
      <div className={`verify ${report.ok ? 'verify-ok' : 'verify-failed'}`}>
        <p className="verify-verdict">{verdictLine(report)}</p>
        {report.ok ? (
          <p>Nothing needs review: every file and record was read.</p>
        ) : (
          <>
            <p>Needs review:</p>
            <ul className="reconcile-attention">
              {report.attention.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </>
        )}
      </div>
      {report.written.csv !== null && (
        <p>
          CSV written to <span className="mono reconcile-path">{report.written.csv}</span>
        </p>
      )}
      {report.written.pdf !== null && (
        <p>
          PDF report written to <span className="mono reconcile-path">{report.written.pdf}</span>
        </p>
      )}
      <ReportCounts report={report} />
      <Group
        title="Half-explained root actions"
        count={half.length}
        advice="Only one half was out, yet the action needed both: someone had the other half by other means. Ask the custodian whose half was out who supplied the other; rotate the half that was not out."
      >
        <Findings caption="Half-explained root actions" findings={half} />
      </Group>
      <Group
        title="Unexplained root actions"
        count={unexplained.length}
        advice="Root used at AWS with no half checked out. Treat it as a compromise of the root user until shown otherwise: find who was at the source IP, rotate both halves through Halfkey, check access keys and contacts."
      >
        <Findings caption="Unexplained root actions" findings={unexplained} />
      </Group>
      <Group
        title="Flagged root actions"
        count={flagged.length}
        advice="Explained by custody, but custody does not account for what the action did: see each flag."
      >
        <Findings caption="Flagged root actions" findings={flagged} />
      </Group>
      <Group
        title="Failed root sign-ins"
        count={report.failedSignIns.length}
        advice="Inside a checkout with both halves out, a custodian's typing error; outside, someone has the root e-mail address and tried a password."
      >
        <Findings caption="Failed root sign-ins" findings={report.failedSignIns} />
      </Group>
      <Group
        title="Checkouts with no root activity"
        count={report.unusedCheckouts.length}
        advice="Credentials taken and, as far as these logs show, not used: check the reason fits. A checkout the logs do not cover says nothing."
      >
        <UnusedCheckouts list={report.unusedCheckouts} />
      </Group>
      <Group
        title="Password rotations not seen at AWS"
        count={report.rotationsNotSeen.length}
        advice="Custody rotated the password but no password change is in the logs: if it was never set at AWS, the old password still works. Check at AWS."
      >
        <RotationsNotSeen list={report.rotationsNotSeen} />
      </Group>
      <Group title="Explained root actions" count={explained.length} advice="Both halves were out, or a break-glass session was open.">
        <Findings caption="Explained root actions" findings={explained} />
      </Group>
      <Group
        title="Files and records not used"
        count={notRead}
        advice="A bad file's root activity is unknown: fetch it again from S3 and rerun. A skipped record is not in CloudTrail's documented format, or is in an account the journal does not hold."
      >
        <NotRead report={report} />
      </Group>
    </section>
  );
}

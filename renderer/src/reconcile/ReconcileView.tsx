import { useEffect, useRef, useState, type ReactElement } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { ReconcileForm } from './ReconcileForm';
import { ReconcileReport, verdictLine } from './ReconcileReport';
import { buildRequest, EMPTY_DRAFT, inFormWords, type DraftProblems, type ReconcileDraft } from './reconcileRequest';
import type { ReconcileResult } from './reportTypes';

/**
 * The reviewer screen: CloudTrail's record of root use set against a journal bundle or the
 * server's org-wide export, through reconcile:run (what `halfkey reconcile` runs). It needs no
 * vault and no custodian: the journal is read from the file and verified before anything else.
 */
export function ReconcileView(): ReactElement {
  const [draft, setDraft] = useState<ReconcileDraft>(EMPTY_DRAFT);
  const [problems, setProblems] = useState<DraftProblems>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [running, setRunning] = useState(false);
  const [report, setReport] = useState<ReconcileResult | null>(null);
  const reportHeading = useRef<HTMLHeadingElement>(null);

  // A new report takes focus, so keyboard and screen-reader users land on the verdict, not at the button.
  useEffect(() => {
    if (report !== null) reportHeading.current?.focus();
  }, [report]);

  const run = async (): Promise<void> => {
    const built = buildRequest(draft);
    if ('problems' in built) {
      setProblems(built.problems);
      setError(null);
      return;
    }
    setProblems({});
    setError(null);
    setReport(null);
    setRunning(true);
    const result = await attempt(() => halfkey().reconcileRun(built.request));
    setRunning(false);
    if (!result.ok) {
      const said = inFormWords(result.error, built.request);
      setError(said.error);
      if (said.field !== null) setProblems({ [said.field]: said.error.message });
      return;
    }
    setReport(result.value);
  };

  const problemCount = Object.keys(problems).length;
  return (
    <>
      <section className="panel" aria-labelledby="reconcile-heading">
        <h2 id="reconcile-heading">Reconcile with CloudTrail</h2>
        <p className="muted">
          Every root action CloudTrail recorded is set against the checkouts in a verified journal. Give absolute paths on this machine;
          nothing is uploaded.
        </p>
        <ReconcileForm draft={draft} onChange={setDraft} problems={problems} running={running} onSubmit={() => void run()}>
          {error === null && problemCount > 0 && (
            <div className="error-notice" role="alert">
              <p>{problemCount === 1 ? 'Check the field marked below.' : `Check the ${problemCount} fields marked below.`}</p>
            </div>
          )}
          <ErrorNotice error={error} />
          <p role="status" className="reconcile-status">
            {running
              ? 'Reconciling: verifying the journal and reading the logs…'
              : report === null
                ? null
                : `Reconciled. ${verdictLine(report)}`}
          </p>
        </ReconcileForm>
      </section>
      {report !== null && <ReconcileReport report={report} headingRef={reportHeading} />}
    </>
  );
}

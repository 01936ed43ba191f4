import { useState, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt, type ApiError } from '../api-call';
import { ErrorNotice } from '../components/ErrorNotice';
import { halfkey } from '../halfkey';

type Report = ResponseOf<'journal:verify'>;

/** Runs journal:verify and shows the verifier's report: counts, head, and every failure by seq. */
export function VerifyReport(): ReactElement {
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [working, setWorking] = useState(false);
  const verify = async (): Promise<void> => {
    setWorking(true);
    const result = await attempt(() => halfkey().journalVerify({}));
    setWorking(false);
    setReport(result.ok ? result.value : null);
    setError(result.ok ? null : result.error);
  };
  return (
    <section className="panel" aria-labelledby="verify-heading">
      <div className="panel-head">
        <h2 id="verify-heading">Verification</h2>
        <button type="button" className="primary" onClick={() => void verify()} disabled={working}>
          {working ? 'Verifying…' : 'Verify journal'}
        </button>
      </div>
      <ErrorNotice error={error} />
      <div aria-live="polite">
        {report !== null && (
          <div className={`verify ${report.ok ? 'verify-ok' : 'verify-failed'}`}>
            <p className="verify-verdict">{report.ok ? 'Journal verified: chain, signatures and checkpoints are intact.' : `Verification failed: ${report.failureCount} problem(s).`}</p>
            <dl className="facts">
              <div>
                <dt>Entries verified</dt>
                <dd>{report.entries}</dd>
              </div>
              <div>
                <dt>Head</dt>
                <dd className="mono">{report.head === null ? 'empty' : `#${report.head.seq}`}</dd>
              </div>
              <div>
                <dt>Last checkpoint</dt>
                <dd>{report.lastCheckpoint === null ? 'none' : `#${report.lastCheckpoint.seq}`}</dd>
              </div>
              <div>
                <dt>Unclean sessions</dt>
                <dd>{report.uncleanSessions}</dd>
              </div>
              <div>
                <dt>Receipts checked</dt>
                <dd>{report.receiptsChecked}</dd>
              </div>
            </dl>
            {report.failures.length > 0 && (
              <table className="table">
                <caption>Failures</caption>
                <thead>
                  <tr>
                    <th scope="col">Seq</th>
                    <th scope="col">Code</th>
                    <th scope="col">Reason</th>
                  </tr>
                </thead>
                <tbody>
                  {report.failures.map((f, i) => (
                    <tr key={`${f.seq ?? 'none'}-${i}`}>
                      <td className="mono">{f.seq ?? '—'}</td>
                      <td className="mono">{f.code}</td>
                      <td>{f.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        )}
      </div>
    </section>
  );
}

import { useState, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Facts } from '../components/Facts';

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
            <p className="verify-verdict">
              {report.ok
                ? 'Journal verified: chain, signatures and checkpoints are intact.'
                : `Verification failed: ${report.failureCount} problem(s).`}
            </p>
            <Facts
              items={[
                { label: 'Entries verified', value: report.entries },
                { label: 'Head', value: report.head === null ? 'empty' : `#${report.head.seq}`, mono: true },
                { label: 'Last checkpoint', value: report.lastCheckpoint === null ? 'none' : `#${report.lastCheckpoint.seq}` },
                { label: 'Unclean sessions', value: report.uncleanSessions },
                { label: 'Receipts checked', value: report.receiptsChecked },
              ]}
            />
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

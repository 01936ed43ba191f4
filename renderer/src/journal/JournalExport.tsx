import { useState, type FormEvent, type ReactElement } from 'react';
import type { ResponseOf } from '../../../shared/api/contract';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';

type Progress = NonNullable<ResponseOf<'journal:export-progress'>>;

/** How often a running export's progress is asked for. */
const PROGRESS_POLL_MS = 250;

/** Writes a signed export bundle (and optionally CSV and PDF) to absolute paths on this machine. */
export function JournalExport(): ReactElement {
  const [out, setOut] = useState('');
  const [csv, setCsv] = useState('');
  const [pdf, setPdf] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [running, setRunning] = useState(false);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setDone(null);
    setProgress(null);
    setRunning(true);
    // The API answers requests only, so the page asks where the export is until the call returns.
    let polling = true;
    const timer = setInterval(() => {
      void attempt(() => halfkey().journalExportProgress({})).then((poll) => {
        if (polling && poll.ok && poll.value !== null && poll.value.phase !== 'done') setProgress(poll.value);
      });
    }, PROGRESS_POLL_MS);
    const result = await attempt(() =>
      halfkey().journalExport({ out, ...(csv === '' ? {} : { csv }), ...(pdf === '' ? {} : { pdf }) }),
    ).finally(() => {
      polling = false;
      clearInterval(timer);
      setRunning(false);
      setProgress(null);
    });
    if (!result.ok) {
      setError(result.error);
      return;
    }
    setError(null);
    const { bundle, head, complete } = result.value;
    setDone(`Exported up to #${head.seq} to ${bundle}${complete ? '' : ' (incomplete: see the bundle manifest)'}.`);
  };
  return (
    <section className="panel" aria-labelledby="export-heading">
      <h2 id="export-heading">Export for reviewers</h2>
      <form noValidate className="form" onSubmit={(event) => void submit(event)}>
        <Field label="Bundle file (.hkj, absolute path)" value={out} onChange={setOut} required placeholder="/home/me/journal.hkj" />
        <Field label="CSV file (optional, .csv)" value={csv} onChange={setCsv} />
        <Field label="PDF report (optional, .pdf)" value={pdf} onChange={setPdf} />
        <ErrorNotice error={error} />
        {running && progress !== null ? <progress aria-label="Export progress" max={progress.total} value={progress.done} /> : null}
        <p role="status" className="done">
          {running ? (progress === null ? 'Exporting…' : progressText(progress)) : done}
        </p>
        <button type="submit" disabled={running}>
          Export
        </button>
      </form>
    </section>
  );
}

function progressText(p: Progress): string {
  return p.phase === 'pdf'
    ? `Writing the PDF report for ${p.total.toLocaleString()} entries…`
    : `Exporting… ${p.done.toLocaleString()} of ${p.total.toLocaleString()} entries`;
}

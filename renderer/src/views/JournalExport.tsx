import { useState, type FormEvent, type ReactElement } from 'react';
import { attempt, type ApiError } from '../api-call';
import { ErrorNotice } from '../components/ErrorNotice';
import { Field } from '../components/Field';
import { halfkey } from '../halfkey';

/** Writes a signed export bundle (and optionally CSV and PDF) to absolute paths on this machine. */
export function JournalExport(): ReactElement {
  const [out, setOut] = useState('');
  const [csv, setCsv] = useState('');
  const [pdf, setPdf] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setDone(null);
    const result = await attempt(() => halfkey().journalExport({ out, ...(csv === '' ? {} : { csv }), ...(pdf === '' ? {} : { pdf }) }));
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
        <p role="status" className="done">
          {done}
        </p>
        <button type="submit">Export</button>
      </form>
    </section>
  );
}

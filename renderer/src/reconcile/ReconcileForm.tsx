import { useId, type FormEvent, type ReactElement, type ReactNode } from 'react';
import { Field } from '../components/Field';
import type { DraftField, DraftProblems, ReconcileDraft } from './reconcileRequest';

interface ReconcileFormProps {
  readonly draft: ReconcileDraft;
  readonly onChange: (draft: ReconcileDraft) => void;
  readonly problems: DraftProblems;
  readonly running: boolean;
  readonly onSubmit: () => void;
  /** The error notice and the status line, placed above the button like the other forms. */
  readonly children?: ReactNode;
}

/**
 * What to reconcile, as absolute paths on this machine: the page has no file picker and no file
 * access (the preview is plain Chromium), so paths are typed or pasted and the main process reads them.
 */
export function ReconcileForm(props: ReconcileFormProps): ReactElement {
  const { draft, problems } = props;
  const id = useId();
  const set = (patch: Partial<ReconcileDraft>): void => props.onChange({ ...draft, ...patch });
  const problem = (field: DraftField): string | null => problems[field] ?? null;
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    props.onSubmit();
  };
  const exportKind = draft.kind === 'server-export';
  const pathsProblem = problem('cloudtrail');
  return (
    <form noValidate className="form reconcile-form" aria-label="What to reconcile" onSubmit={submit}>
      <fieldset className="choice">
        <legend>Journal</legend>
        <label className="check">
          <input type="radio" name={`${id}-kind`} value="bundle" checked={!exportKind} onChange={() => set({ kind: 'bundle' })} />
          <span>
            A device&apos;s journal bundle (<code>halfkey journal export</code>)
          </span>
        </label>
        <label className="check">
          <input
            type="radio"
            name={`${id}-kind`}
            value="server-export"
            checked={exportKind}
            onChange={() => set({ kind: 'server-export' })}
          />
          <span>
            The server&apos;s org-wide export (<code>halfkey review export</code>)
          </span>
        </label>
      </fieldset>
      <Field
        label={exportKind ? 'Export file (absolute path)' : 'Journal bundle (absolute path)'}
        value={draft.journalPath}
        onChange={(journalPath) => set({ journalPath })}
        required
        placeholder={exportKind ? '/home/me/review/org.hkx' : '/home/me/review/journal.hkj'}
        problem={problem('journalPath')}
      />
      <Field
        label={exportKind ? 'Server key' : 'Server keys (optional)'}
        value={draft.serverKeys}
        onChange={(serverKeys) => set({ serverKeys })}
        required={exportKind}
        hint={
          exportKind
            ? 'The 64 hex digits of the server key pinned at enrolment, as your administrator published it; the export is checked against it.'
            : 'Pins the server keys the bundle’s receipts may be under: 64 hex digits each, separated by spaces or commas.'
        }
        problem={problem('serverKeys')}
      />
      <div className="field">
        <p className="field-label">
          <label htmlFor={`${id}-paths`}>CloudTrail logs</label>
          <span className="required" aria-hidden="true">
            {' '}
            (required)
          </span>
        </p>
        <textarea
          id={`${id}-paths`}
          className="path-list"
          rows={4}
          value={draft.cloudtrail}
          required
          spellCheck={false}
          autoComplete="off"
          placeholder={'/home/me/review/AWSLogs\n/home/me/review/lookup-events.json'}
          aria-invalid={pathsProblem !== null}
          aria-describedby={`${id}-paths-hint${pathsProblem === null ? '' : ` ${id}-paths-problem`}`}
          onChange={(event) => set({ cloudtrail: event.target.value })}
        />
        <p id={`${id}-paths-hint`} className="field-hint">
          Absolute paths, one per line: log files as a trail writes them to S3 (.json or .json.gz), folders of them (read with every folder
          inside), or files of <code>aws cloudtrail lookup-events</code> output.
        </p>
        {pathsProblem !== null && (
          <p id={`${id}-paths-problem`} className="field-problem">
            {pathsProblem}
          </p>
        )}
      </div>
      <Field
        label="Slack (minutes)"
        type="number"
        inputMode="numeric"
        value={draft.slackMinutes}
        onChange={(slackMinutes) => set({ slackMinutes })}
        hint="Every checkout window is widened by this much at both ends, for clock skew between the custody machine and AWS."
        problem={problem('slackMinutes')}
      />
      <Field
        label="CSV file (optional, .csv)"
        value={draft.csv}
        onChange={(csv) => set({ csv })}
        placeholder="/home/me/review/findings.csv"
        problem={problem('csv')}
      />
      <Field
        label="PDF report (optional, .pdf)"
        value={draft.pdf}
        onChange={(pdf) => set({ pdf })}
        placeholder="/home/me/review/findings.pdf"
        problem={problem('pdf')}
      />
      {props.children}
      <button type="submit" className="primary" disabled={props.running}>
        {props.running ? 'Reconciling…' : 'Reconcile'}
      </button>
    </form>
  );
}

import { useId, useState, type FormEvent, type ReactElement } from 'react';
import type { RequestOf, ResponseOf } from '../../../shared/api/contract';
import { MAX_REVIEW_TEXT, REVIEW_FINDINGS, type ReviewFinding } from '../../../shared/sync/review-findings';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { ErrorNotice } from '../components/ErrorNotice';

const FINDING_LABELS: Readonly<Record<ReviewFinding, string>> = {
  authorised: 'Authorised: the break-glass was needed and done as it should be',
  unauthorised: 'Unauthorised: it should not have happened',
  'false-alarm': 'False alarm',
  inconclusive: 'Inconclusive: more investigation is needed',
};

/** The acknowledge form: finding, whether both halves were rotated, free text; signed with the reviewer's key in the main process. */
export function AcknowledgeForm(props: {
  readonly subject: RequestOf<'review:acknowledge'>['subject'];
  readonly by: string;
  readonly disabled: boolean;
  readonly onDone: () => Promise<void>;
}): ReactElement {
  const id = useId();
  const [finding, setFinding] = useState<ReviewFinding>('authorised');
  const [rotationDone, setRotationDone] = useState<'yes' | 'no'>('no');
  const [text, setText] = useState('');
  const [error, setError] = useState<ApiError | null>(null);
  const [stored, setStored] = useState<ResponseOf<'review:acknowledge'> | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    const result = await attempt(() =>
      halfkey().reviewAcknowledge({ by: props.by, subject: props.subject, finding, rotationDone: rotationDone === 'yes', text }),
    );
    setBusy(false);
    setError(result.ok ? null : result.error);
    if (result.ok) {
      setStored(result.value);
      await props.onDone();
    }
  };
  const label = props.subject.kind === 'incident' ? 'Acknowledge this incident' : 'Acknowledge this alarm';
  return (
    <form className="form" aria-label={label} onSubmit={(event) => void submit(event)}>
      {props.disabled && <p className="notice">Its evidence failed the checks, so it cannot be acknowledged here: report it instead.</p>}
      <fieldset disabled={props.disabled || busy}>
        <legend>{label}</legend>
        <div className="field">
          <label htmlFor={`${id}-finding`}>Finding</label>
          <select id={`${id}-finding`} value={finding} onChange={(event) => setFinding(event.target.value as ReviewFinding)}>
            {REVIEW_FINDINGS.map((f) => (
              <option key={f} value={f}>
                {FINDING_LABELS[f]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-rotation`}>Both halves rotated since</label>
          <select id={`${id}-rotation`} value={rotationDone} onChange={(event) => setRotationDone(event.target.value as 'yes' | 'no')}>
            <option value="no">No, not yet</option>
            <option value="yes">Yes, rotation is done</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-text`}>Review notes</label>
          <textarea
            id={`${id}-text`}
            value={text}
            maxLength={MAX_REVIEW_TEXT}
            rows={4}
            aria-describedby={`${id}-text-hint`}
            onChange={(event) => setText(event.target.value)}
          />
          <p id={`${id}-text-hint`} className="field-hint">
            What you checked and concluded; signed with your key and logged by the server. At most {MAX_REVIEW_TEXT} characters.
          </p>
        </div>
        <button type="submit" className="primary">
          Sign and acknowledge
        </button>
      </fieldset>
      <ErrorNotice error={error} />
      {stored !== null && (
        <p role="status">
          {stored.already
            ? 'It had already been acknowledged: the server keeps the first acknowledgement, shown above.'
            : `Acknowledged and logged at index ${stored.acknowledgement.logIndex}${stored.acknowledgement.verified ? ', verified' : ', but the stored acknowledgement FAILED its checks'}.`}
        </p>
      )}
    </form>
  );
}

import { useId, type ReactElement } from 'react';

/** Props of a labelled text input; `hint` and `problem` are tied to it with aria-describedby. */
export interface FieldProps {
  readonly label: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly type?: 'text' | 'password' | 'email' | 'search' | 'url' | 'number';
  readonly required?: boolean;
  readonly hint?: string;
  readonly problem?: string | null;
  readonly inputMode?: 'numeric' | 'text';
  readonly autoComplete?: string;
  readonly placeholder?: string;
}

/** A label, an input and its hint or inline problem, in one accessible block. */
export function Field(props: FieldProps): ReactElement {
  const id = useId();
  const hintId = `${id}-hint`;
  const problemId = `${id}-problem`;
  const problem = props.problem ?? null;
  const describedBy = [props.hint === undefined ? null : hintId, problem === null ? null : problemId].filter((x) => x !== null).join(' ');
  return (
    <div className="field">
      <p className="field-label">
        <label htmlFor={id}>{props.label}</label>
        {/* The input's required attribute is what assistive technology announces; this is for the eye. */}
        {props.required === true && (
          <span className="required" aria-hidden="true">
            {' '}
            (required)
          </span>
        )}
      </p>
      <input
        id={id}
        type={props.type ?? 'text'}
        value={props.value}
        required={props.required}
        inputMode={props.inputMode}
        placeholder={props.placeholder}
        // Passwords and secrets are never offered to the browser's autofill or password store.
        autoComplete={props.autoComplete ?? 'off'}
        spellCheck={false}
        aria-invalid={problem !== null}
        aria-describedby={describedBy === '' ? undefined : describedBy}
        onChange={(event) => props.onChange(event.target.value)}
      />
      {props.hint !== undefined && (
        <p id={hintId} className="field-hint">
          {props.hint}
        </p>
      )}
      {problem !== null && (
        <p id={problemId} className="field-problem">
          {problem}
        </p>
      )}
    </div>
  );
}

import type { ReactElement } from 'react';
import type { ApiError } from '../api/types';

// Detail keys a person can act on; the rest of `detail` is for programs and stays out of the page.
const SHOWN_DETAIL = [
  { key: 'ruleName', label: 'Rule' },
  { key: 'rule', label: 'Rule id' },
  { key: 'item', label: 'Item' },
  { key: 'accountId', label: 'Account' },
  { key: 'action', label: 'Action' },
  { key: 'field', label: 'Field' },
] as const;

function detailLines(error: ApiError): readonly { key: string; value: string }[] {
  const detail = error.detail;
  if (detail === undefined) return [];
  const lines: { key: string; value: string }[] = [];
  for (const { key, label } of SHOWN_DETAIL) {
    const value = detail[key];
    if (value !== undefined && value !== null) lines.push({ key: label, value: String(value) });
  }
  return lines;
}

/** An API error as a person reads it: its message, its stable code, and for refusals the rule and item. */
export function ErrorNotice({ error }: { readonly error: ApiError | null }): ReactElement | null {
  if (error === null) return null;
  const lines = detailLines(error);
  return (
    <div className="error-notice" role="alert">
      <p>
        <span className="error-code">{error.code}</span> {error.message}
      </p>
      {lines.length > 0 && (
        <dl className="error-detail">
          {lines.map((line) => (
            <div key={line.key}>
              <dt>{line.key}</dt>
              <dd>{line.value}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

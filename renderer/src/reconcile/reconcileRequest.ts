import type { RequestOf } from '../../../shared/api/contract';
import type { ApiError } from '../api/types';

/** What reconcile:run takes; the form builds it from what the reviewer typed. */
export type ReconcileRequest = RequestOf<'reconcile:run'>;

/** The form as typed: every field a string, so nothing the reviewer wrote is lost to parsing. */
export interface ReconcileDraft {
  readonly kind: 'bundle' | 'server-export';
  readonly journalPath: string;
  readonly serverKeys: string;
  readonly cloudtrail: string;
  readonly slackMinutes: string;
  readonly csv: string;
  readonly pdf: string;
}

/** The form's fields, named once so a problem (the page's or the router's) lands on the right one. */
export type DraftField = 'journalPath' | 'serverKeys' | 'cloudtrail' | 'slackMinutes' | 'csv' | 'pdf';

export type DraftProblems = Partial<Record<DraftField, string>>;

export const EMPTY_DRAFT: ReconcileDraft = {
  kind: 'bundle',
  journalPath: '',
  serverKeys: '',
  cloudtrail: '',
  slackMinutes: '5',
  csv: '',
  pdf: '',
};

/** The largest slack the channel takes (24 hours), in minutes. */
const MAX_SLACK_MINUTES = 24 * 60;

// Mirrors the channel's own test (POSIX, or a Windows drive): the page only catches the obvious
// slip before a round trip; the router checks every path again and names the field.
const isAbsolute = (path: string): boolean => path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path);

/** One path per line, trimmed; blank lines (a trailing newline from a paste) are not paths. */
export function cloudTrailLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** The form as a request, or the problems that keep it from being one, in the form's words. */
export function buildRequest(draft: ReconcileDraft): { readonly request: ReconcileRequest } | { readonly problems: DraftProblems } {
  const problems: DraftProblems = {};
  const journalPath = draft.journalPath.trim();
  if (journalPath === '') problems.journalPath = 'Give the path of the journal file.';
  else if (!isAbsolute(journalPath))
    problems.journalPath = `"${journalPath}" is not an absolute path: start it with / (or a drive letter on Windows).`;

  // A key copied from the operator's message may be grouped or upper-case; the channel wants 64 lower-case hex digits.
  const keys = draft.serverKeys
    .split(/[\s,]+/)
    .map((key) => key.toLowerCase())
    .filter((key) => key !== '');
  const exportKey = draft.serverKeys.replace(/\s+/g, '').toLowerCase();
  if (draft.kind === 'server-export' && exportKey === '')
    problems.serverKeys = "Give the server's key: an org-wide export is checked against it.";

  const paths = cloudTrailLines(draft.cloudtrail);
  const relative = paths.findIndex((path) => !isAbsolute(path));
  if (paths.length === 0) problems.cloudtrail = 'Give at least one CloudTrail log file or folder.';
  else if (relative >= 0) problems.cloudtrail = `Line ${relative + 1} ("${paths[relative] ?? ''}") is not an absolute path.`;

  const minutes = Number(draft.slackMinutes.trim());
  if (draft.slackMinutes.trim() === '' || !Number.isFinite(minutes) || minutes < 0 || minutes > MAX_SLACK_MINUTES) {
    problems.slackMinutes = `Give the slack in minutes, from 0 to ${MAX_SLACK_MINUTES} (24 hours).`;
  }

  const csv = draft.csv.trim();
  const pdf = draft.pdf.trim();
  if (csv !== '' && !isAbsolute(csv)) problems.csv = 'The CSV file needs an absolute path.';
  if (pdf !== '' && !isAbsolute(pdf)) problems.pdf = 'The PDF report needs an absolute path.';

  if (Object.keys(problems).length > 0) return { problems };
  const journal: ReconcileRequest['journal'] =
    draft.kind === 'bundle'
      ? { kind: 'bundle', path: journalPath, ...(keys.length === 0 ? {} : { serverKeys: keys }) }
      : { kind: 'server-export', path: journalPath, serverKey: exportKey };
  return {
    request: {
      journal,
      cloudtrail: paths,
      slackSeconds: Math.round(minutes * 60),
      ...(csv === '' ? {} : { csv }),
      ...(pdf === '' ? {} : { pdf }),
    },
  };
}

/** The router's field names (`cloudtrail.2`, `journal.serverKey`) as the form's fields and labels. */
function fieldOf(where: string, request: ReconcileRequest | null): { readonly field: DraftField | null; readonly label: string } {
  const [head, next] = where.split('.');
  switch (head) {
    case 'journal':
      if (next === 'path') return { field: 'journalPath', label: 'Journal file' };
      if (next === 'serverKey' || next === 'serverKeys') return { field: 'serverKeys', label: 'Server key' };
      return { field: 'journalPath', label: 'Journal' };
    case 'cloudtrail': {
      const index = Number(next);
      const line = next === undefined || !Number.isInteger(index) ? '' : `, line ${index + 1}`;
      const path = next === undefined ? undefined : request?.cloudtrail[index];
      return { field: 'cloudtrail', label: `CloudTrail logs${line}${path === undefined ? '' : ` ("${path}")`}` };
    }
    case 'slackSeconds':
      return { field: 'slackMinutes', label: 'Slack' };
    case 'csv':
      return { field: 'csv', label: 'CSV file' };
    case 'pdf':
      return { field: 'pdf', label: 'PDF report' };
    default:
      return { field: null, label: 'The request' };
  }
}

/**
 * The router's answer in the form's words: an INVALID_PAYLOAD names the schema's field
 * (`cloudtrail.0`), which the reviewer never saw, so it is said as the label they typed into;
 * other errors (a missing file, a journal that does not verify) already speak plainly.
 * The `field` detail goes: the label is in the message, and the field itself is marked.
 */
export function inFormWords(
  error: ApiError,
  request: ReconcileRequest | null,
): { readonly error: ApiError; readonly field: DraftField | null } {
  const where = error.detail?.field;
  if (typeof where !== 'string') return { error, field: null };
  const { field, label } = fieldOf(where, request);
  const issue = error.detail?.issue;
  const message = error.code === 'INVALID_PAYLOAD' && typeof issue === 'string' ? `${label}: ${issue}.` : error.message;
  return { error: { code: error.code, message }, field };
}

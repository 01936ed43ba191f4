import type { SignedEntry } from '../../shared/journal/entry';

/** Columns of the journal CSV export, one row per entry. */
export const CSV_COLUMNS = ['seq', 'time', 'type', 'actor', 'account', 'reason', 'ticket', 'hash'] as const;

/** RFC 4180 quoting, plus a leading quote on cells a spreadsheet would run as a formula. */
function cell(value: unknown): string {
  let text = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(entry: SignedEntry): string {
  const d = entry.data;
  return `${[entry.seq, new Date(entry.time).toISOString(), entry.type, entry.actor, d.account, d.reason, d.ticket, entry.hash].map(cell).join(',')}\r\n`;
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { plain, RUNBOOK, runbookBlocks, runbookMarkdown } from '../../shared/break-glass/runbook';
import { runbookPdf, type RunbookSheet } from '../../electron/break-glass/runbook-pdf';
import { flat, pdfLines } from '../support/pdf-text';

// The runbook has one source (shared/break-glass/runbook.ts): the doc must say exactly what it
// says, and the PDF must print every step of it, for the account it is printed for.

const DOC = fileURLToPath(new URL('../../docs/break-glass.md', import.meta.url));

/** The doc's runbook: between the generated-section marker and its end marker. */
function docRunbook(): string {
  const doc = readFileSync(DOC, 'utf8');
  const start = /<!-- runbook: generated from [^>]*-->\n\n/.exec(doc);
  const end = doc.indexOf('\n<!-- runbook: end -->');
  if (start === null || end < 0) throw new Error('docs/break-glass.md lost its runbook markers');
  return doc.slice(start.index + start[0].length, end);
}

const SHEET: RunbookSheet = {
  accountId: '210987654321',
  alias: 'prod-management',
  organisation: 'Example Corp',
  holders: {
    password: [{ custodianId: 'c1', name: 'Pat Example', organisation: 'Customer' }],
    mfa: [
      { custodianId: 'c2', name: 'Mia Müller', organisation: 'Provider' },
      { custodianId: 'c3', name: 'Max 王', organisation: 'Provider' },
    ],
  },
  printedAt: Date.UTC(2025, 0, 2, 3, 4, 5),
};

/** A runbook text as the PDF draws it (the arrow has no glyph in the standard fonts). */
const asDrawn = (text: string): string => text.replaceAll('→', '->').replace(/\s+/g, ' ');

describe('the break-glass runbook', () => {
  it('docs/break-glass.md carries exactly the runbook of shared/break-glass/runbook.ts', () => {
    expect(docRunbook()).toBe(runbookMarkdown());
  });

  it('names the example account in the doc and the real one on paper, in every command', () => {
    expect(runbookMarkdown()).toContain('--account 123456789012');
    expect(runbookMarkdown()).not.toContain('{account}');
    const onPaper = runbookBlocks(SHEET.accountId).map((b) => b.text);
    expect(onPaper.join('\n')).not.toMatch(/\{account\}|123456789012/);
    expect(onPaper.filter((t) => t.includes(`--account ${SHEET.accountId}`)).length).toBeGreaterThanOrEqual(6);
    // No markup survives onto paper; code keeps its underscores.
    expect(onPaper.join('\n')).not.toMatch(/\*\*|`|(?<!\w)_\w/);
    expect(onPaper.join('\n')).toContain('--as YOUR_ID');
    expect(plain('_Take over_ with **your** passphrase, `--as YOUR_ID` at <https://x.example/>')).toBe(
      'Take over with your passphrase, --as YOUR_ID at https://x.example/',
    );
  });

  it('prints one page that parses back with pdf-lib: the account, who holds which half, every step and point', async () => {
    const { pages, lines, title } = await pdfLines(await runbookPdf(SHEET));
    expect(pages).toBe(1);
    expect(title).toBe('Halfkey break-glass runbook: account 210987654321');
    const text = flat(lines);
    expect(lines[0]).toBe('Break-glass runbook: account 210987654321 (prod-management)');
    expect(text).toContain('Password half: Pat Example (Customer)');
    // Latin-1 names print as they are; what the standard font cannot draw becomes '?'.
    expect(text).toContain('MFA half: Mia Müller (Provider); Max ? (Provider)');
    expect(text).toContain('2025-01-02T03:04:05.000Z');
    for (const block of runbookBlocks(SHEET.accountId)) expect(text, block.text).toContain(asDrawn(block.text));
    for (const [i, step] of RUNBOOK.steps.entries()) expect(text).toContain(`${i + 1}. ${plain(step.title)}`);
  });

  it('says so when nobody holds a half', async () => {
    const text = flat((await pdfLines(await runbookPdf({ ...SHEET, holders: { password: [], mfa: [] } }))).lines);
    expect(text).toContain('Password half: nobody is assigned this half');
    expect(text).toContain('MFA half: nobody is assigned this half');
  });
});

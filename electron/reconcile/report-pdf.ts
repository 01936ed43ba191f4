import { renameSync, writeFileSync } from 'node:fs';
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import type { ReconcileReport } from '../../shared/reconcile/report';
import { reportText } from '../../shared/reconcile/report-text';
import { wrap } from '../base/pdf-text';

const A4 = { width: 595, height: 842, margin: 42 };
const SIZE = 8.5;
const LEADING = 11;

/** What a standard PDF font can draw: outside printable Latin-1 becomes '?' (user agents and reasons are free text). */
const drawable = (text: string): string => text.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');

/**
 * The reconciliation as a PDF for the review file: the same text `halfkey reconcile` prints
 * (counts, every finding that needs a look, the verdict), wrapped to the page, headings in bold
 * and the result in colour. Written beside the target and renamed, so no half-written report
 * ever has the name asked for.
 */
export async function writeReconcilePdf(report: ReconcileReport, path: string): Promise<void> {
  const doc = await PDFDocument.create();
  doc.setTitle('Halfkey CloudTrail reconciliation');
  doc.setCreator('halfkey');
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  let page: PDFPage = doc.addPage([A4.width, A4.height]);
  let y = A4.height - A4.margin;
  const draw = (text: string, f: PDFFont, color: [number, number, number] = [0, 0, 0]): void => {
    if (y < A4.margin) {
      page = doc.addPage([A4.width, A4.height]);
      y = A4.height - A4.margin;
    }
    page.drawText(text, { x: A4.margin, y, size: SIZE, font: f, color: rgb(...color) });
    y -= LEADING;
  };
  draw('Halfkey: root activity at AWS reconciled against custody', bold);
  y -= 4;
  for (const line of reportText(report).trimEnd().split('\n')) {
    const heading = !line.startsWith(' ') && line.endsWith(':');
    const result = line.startsWith('Result:');
    const color: [number, number, number] = result
      ? report.ok
        ? [0, 0.45, 0]
        : [0.75, 0, 0]
      : line.includes('FLAG ')
        ? [0.6, 0.25, 0]
        : [0, 0, 0];
    const f = heading || result ? bold : font;
    for (const piece of wrap(drawable(line), f, SIZE, A4.width - 2 * A4.margin)) draw(piece, f, color);
  }
  writeFileSync(`${path}.partial`, await doc.save(), { mode: 0o600 });
  renameSync(`${path}.partial`, path);
}

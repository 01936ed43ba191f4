import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import { runbookBlocks } from '../../shared/break-glass/runbook';
import { HalfkeyError } from '../../shared/api/result';
import { wrap } from '../base/pdf-text';

/** A custodian named on the runbook as holding a half: a name and an organisation, never anything secret. */
export interface RunbookHolder {
  readonly custodianId: string;
  readonly name: string;
  readonly organisation: string;
}

/** What the printed runbook says about one account besides the procedure. */
export interface RunbookSheet {
  readonly accountId: string;
  readonly alias: string;
  readonly organisation: string;
  readonly holders: { readonly password: readonly RunbookHolder[]; readonly mfa: readonly RunbookHolder[] };
  readonly printedAt: number;
}

const A4 = { width: 595, height: 842, margin: 40 };
const SIZE = 9.5;
const LEADING = 11.6;
const ITEM_INDENT = 12;

/**
 * Text a standard font can draw: the arrow becomes '->', anything else the font's encoding
 * (WinAnsi) lacks becomes '?'. Names and aliases are free text.
 */
function drawable(text: string, font: PDFFont): string {
  const known = new Set(font.getCharacterSet());
  return [...text.replaceAll('→', '->')].map((c) => (known.has(c.codePointAt(0) ?? 0) ? c : '?')).join('');
}

/** Lines top to bottom over as many pages as it takes. */
class Sheet {
  private page: PDFPage;
  private y: number;
  private readonly width = A4.width - 2 * A4.margin;

  constructor(
    private readonly doc: PDFDocument,
    private readonly fonts: { readonly regular: PDFFont; readonly bold: PDFFont },
  ) {
    this.page = doc.addPage([A4.width, A4.height]);
    this.y = A4.height - A4.margin;
  }

  /** A wrapped paragraph; `marker` hangs in the margin of a list item. */
  text(text: string, options: { bold?: boolean; size?: number; marker?: string; grey?: boolean } = {}): void {
    const font = options.bold === true ? this.fonts.bold : this.fonts.regular;
    const size = options.size ?? SIZE;
    const indent = options.marker === undefined ? 0 : ITEM_INDENT;
    const pieces = wrap(drawable(text, font), font, size, this.width - indent, 0);
    pieces.forEach((piece, i) => {
      this.room(size);
      const color = options.grey === true ? rgb(0.35, 0.35, 0.35) : rgb(0, 0, 0);
      if (i === 0 && options.marker !== undefined)
        this.page.drawText(options.marker, { x: A4.margin, y: this.y, size, font: this.fonts.regular, color });
      this.page.drawText(piece, { x: A4.margin + indent, y: this.y, size, font, color });
      this.y -= Math.max(LEADING, size * 1.25);
    });
  }

  gap(points: number): void {
    this.y -= points;
  }

  private room(size: number): void {
    if (this.y - size >= A4.margin) return;
    this.page = this.doc.addPage([A4.width, A4.height]);
    this.y = A4.height - A4.margin;
  }
}

const holdersText = (holders: readonly RunbookHolder[]): string =>
  holders.length === 0 ? 'nobody is assigned this half' : holders.map((h) => `${h.name} (${h.organisation})`).join('; ');

/** The runbook of one account as PDF bytes: the account, who holds which half, and the procedure with the account in every command. */
export async function runbookPdf(sheet: RunbookSheet): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(`Halfkey break-glass runbook: account ${sheet.accountId}`);
  doc.setSubject('The root sign-in of this account by two custodians, offline (docs/break-glass.md)');
  doc.setCreator('halfkey');
  doc.setCreationDate(new Date(sheet.printedAt));
  const fonts = { regular: await doc.embedFont(StandardFonts.Helvetica), bold: await doc.embedFont(StandardFonts.HelveticaBold) };
  const out = new Sheet(doc, fonts);
  out.text(`Break-glass runbook: account ${sheet.accountId} (${sheet.alias})`, { bold: true, size: 14 });
  out.text(
    `Organisation ${sheet.organisation}. Printed ${new Date(sheet.printedAt).toISOString()} from this workstation's vault; the same procedure is docs/break-glass.md. This sheet holds no secret.`,
    { grey: true },
  );
  out.gap(4);
  out.text('Who holds which half', { bold: true, size: 10 });
  out.text(`Password half: ${holdersText(sheet.holders.password)}`, { marker: '-' });
  out.text(`MFA half: ${holdersText(sheet.holders.mfa)}`, { marker: '-' });
  out.text('Two different people: whoever uses the password half cannot use the MFA half.', { marker: '-' });
  out.gap(4);
  for (const block of runbookBlocks(sheet.accountId)) {
    if (block.kind === 'heading') {
      out.gap(3);
      out.text(block.text, { bold: true });
    } else if (block.kind === 'item') out.text(block.text, { marker: block.marker });
    else out.text(block.text);
  }
  return doc.save();
}

/**
 * Writes the runbook to `path` (absolute, checked by the channel): the bytes go to `path.part`
 * first and are renamed over `path`, so a failure leaves nothing under either name.
 */
export async function writeRunbookPdf(sheet: RunbookSheet, path: string): Promise<number> {
  const bytes = await runbookPdf(sheet);
  const part = `${path}.part`;
  try {
    writeFileSync(part, bytes, { mode: 0o600 });
    renameSync(part, path);
  } catch (error) {
    try {
      rmSync(part, { force: true });
    } catch {
      // `path.part` is not ours (a folder): nothing of this attempt is left under it.
    }
    throw writeError(error, path);
  }
  return bytes.length;
}

/** A file-system failure in the user's words; anything unforeseen goes on as it is (INTERNAL at the router). */
function writeError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const detail = { field: 'out', path };
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new HalfkeyError('NOT_FOUND', `The folder ${dirname(path)} does not exist: choose a folder that does for the runbook.`, detail);
  if (code === 'EISDIR') return new HalfkeyError('CONFLICT', `${path} is a folder: give a file name ending in .pdf.`, detail);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new HalfkeyError('NOT_PERMITTED', `Halfkey may not write to ${dirname(path)}: choose a folder you can write to.`, detail);
  return error;
}

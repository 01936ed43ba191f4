import { writeFileSync, renameSync } from 'node:fs';
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import QRCode from 'qrcode';
import type { SignedEntry } from '../../shared/journal/entry';
import { drawable, wrap } from '../base/pdf-text';
import type { BundleReport } from '../../shared/journal/bundle';
import { fileLines } from './bundle-file';
import { verifyBundleFile } from './bundle-file';

/** Rows of the checkout table in the PDF; past this the report points to the CSV. */
const MAX_CHECKOUT_ROWS = 400;
const PAGE = { width: 595, height: 842, margin: 48 };

interface Checkout {
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly actor: string | null;
  readonly account: string;
  readonly item: string;
  readonly reason: string;
}

/** Longest free text (a reason) printed per checkout; the CSV has it whole. */
const MAX_REASON = 600;

/** Writes lines top to bottom, starting new pages as needed. */
class PdfWriter {
  private page: PDFPage;
  private y: number;
  constructor(
    private readonly doc: PDFDocument,
    private readonly font: PDFFont,
    private readonly bold: PDFFont,
  ) {
    this.page = doc.addPage([PAGE.width, PAGE.height]);
    this.y = PAGE.height - PAGE.margin;
  }
  /** Draws a line of text, wrapped to the page width (never past the right margin). */
  line(text: string, options: { size?: number; bold?: boolean; color?: [number, number, number] } = {}): void {
    const size = options.size ?? 10;
    const font = options.bold ? this.bold : this.font;
    for (const piece of wrap(drawable(text, font), font, size, PAGE.width - 2 * PAGE.margin)) {
      this.space(size + 4);
      this.page.drawText(piece, { x: PAGE.margin, y: this.y, size, font, color: rgb(...(options.color ?? [0, 0, 0])) });
      this.y -= size + 4;
    }
  }
  gap(points = 8): void {
    this.y -= points;
  }
  async image(png: Uint8Array, size: number): Promise<void> {
    const image = await this.doc.embedPng(png);
    this.space(size);
    this.page.drawImage(image, { x: PAGE.margin, y: this.y - size, width: size, height: size });
    this.y -= size + 8;
  }
  private space(needed: number): void {
    if (this.y - needed < PAGE.margin) {
      this.page = this.doc.addPage([PAGE.width, PAGE.height]);
      this.y = PAGE.height - PAGE.margin;
    }
  }
}

/**
 * A PDF report of an export bundle for people: the summary, who checked out what and why in
 * the requested range, the verification result, and the head checkpoint hash as text and QR code
 * (so a printed report can be matched to the bundle and the server's records).
 */
export async function writeJournalReport(bundlePath: string, pdfPath: string, range: { from: number; to?: number }): Promise<BundleReport> {
  const report = await verifyBundleFile(bundlePath);
  const checkouts: Checkout[] = [];
  let checkoutCount = 0;
  /** Every checkpoint in the bundle, in order: the first at or after the range's end attests it. */
  const checkpoints: { seq: number; hash: string; root: string }[] = [];
  const types = new Map<string, number>();
  for await (const text of fileLines(bundlePath)) {
    const record = JSON.parse(text) as { kind?: string; entry?: SignedEntry };
    if (record.kind !== 'entry' || !record.entry) continue;
    const e = record.entry;
    if (e.type === 'checkpoint') checkpoints.push({ seq: e.seq, hash: e.hash, root: String(e.data.root) });
    if (e.seq < range.from || (range.to !== undefined && e.seq > range.to)) continue;
    types.set(e.type, (types.get(e.type) ?? 0) + 1);
    if (e.type.startsWith('checkout.')) {
      checkoutCount += 1;
      if (checkouts.length < MAX_CHECKOUT_ROWS) {
        const d = e.data;
        const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));
        checkouts.push({
          seq: e.seq,
          time: e.time,
          type: e.type,
          actor: e.actor,
          account: str(d.account),
          item: str(d.item ?? d.half),
          reason: str(d.reason),
        });
      }
    }
  }

  const doc = await PDFDocument.create();
  doc.setTitle('Halfkey journal report');
  doc.setCreator('halfkey');
  const w = new PdfWriter(doc, await doc.embedFont(StandardFonts.Helvetica), await doc.embedFont(StandardFonts.HelveticaBold));
  const m = report.manifest;
  w.line('Halfkey journal report', { size: 18, bold: true });
  w.gap();
  if (m) {
    w.line(`Vault: ${m.vault}`);
    w.line(`Device: ${m.device}`);
    w.line(`Exported: ${new Date(m.exportedAt).toISOString()}`);
    w.line(`Requested range: seq ${range.from} to ${range.to ?? 'end of journal'}`);
  }
  w.line(`Entries in bundle: ${report.entries}; found seq ${report.found ? `${report.found.from} to ${report.found.to}` : 'none'}`);
  w.gap();
  w.line('Verification', { size: 13, bold: true });
  w.line(
    report.ok
      ? 'RESULT: VALID - every entry, signature, checkpoint, receipt and the manifest verified.'
      : `RESULT: INVALID - ${report.failureCount} failure(s).`,
    {
      bold: true,
      color: report.ok ? [0, 0.45, 0] : [0.75, 0, 0],
    },
  );
  for (const f of report.failures.slice(0, 25))
    w.line(`${f.seq === null ? 'bundle' : `seq ${f.seq}`}: ${f.code}: ${f.reason}`, { size: 8 });
  w.line(`Receipts: ${report.receipts.valid}/${report.receipts.count} valid. Unclean session ends: ${report.chain.uncleanSessions}.`);
  w.gap();
  // What attests the requested range: the first checkpoint at or after its end (its device
  // signature covers the Merkle root of every entry before it). A range past the last checkpoint
  // in the bundle is attested by the head entry, whose hash chains to every entry before it.
  const end = range.to ?? report.found?.to ?? 0;
  const checkpoint = checkpoints.find((c) => c.seq >= end) ?? null;
  const qr = (text: string): Promise<Buffer> => QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 240 });
  if (checkpoint !== null && m) {
    w.line('Checkpoint covering the range', { size: 13, bold: true });
    w.line(`Checkpoint seq ${checkpoint.seq} attests every entry before it, including seq ${range.from} to ${end}.`, { size: 9 });
    w.line(`Merkle root ${checkpoint.root}`, { size: 8 });
    w.line(`Checkpoint entry hash: ${checkpoint.hash}`, { size: 9, bold: true });
    await w.image(await qr(`halfkey:checkpoint:${m.vault}:${checkpoint.seq}:${checkpoint.hash}`), 140);
  } else if (m) {
    w.line('Head entry (no checkpoint covers the range)', { size: 13, bold: true });
    w.line(
      `No checkpoint in this bundle comes at or after seq ${end}; the QR code is the bundle's head entry, seq ${m.head.seq}, whose hash chains to every entry before it.`,
      { size: 9 },
    );
    w.line(`Head entry hash: ${m.head.hash}`, { size: 9, bold: true });
    await w.image(await qr(`halfkey:head:${m.vault}:${m.head.seq}:${m.head.hash}`), 140);
  } else {
    w.line('The bundle has no readable manifest, so no checkpoint or head to print.');
  }
  w.gap();
  w.line('Entries by type', { size: 13, bold: true });
  for (const [type, n] of [...types].sort((a, b) => b[1] - a[1])) w.line(`${type}: ${n}`, { size: 9 });
  w.gap();
  w.line(`Checkouts (${checkoutCount})`, { size: 13, bold: true });
  for (const c of checkouts) {
    w.line(`#${c.seq} ${new Date(c.time).toISOString()} ${c.type} by ${c.actor ?? 'device'}; account ${c.account} ${c.item}`, { size: 8 });
    if (c.reason)
      w.line(`    reason: ${c.reason.length > MAX_REASON ? `${c.reason.slice(0, MAX_REASON)}… (whole in the CSV)` : c.reason}`, {
        size: 8,
      });
  }
  if (checkoutCount > checkouts.length) w.line(`... ${checkoutCount - checkouts.length} more in the CSV export.`, { size: 8 });
  const bytes = await doc.save();
  writeFileSync(`${pdfPath}.partial`, bytes, { mode: 0o600 });
  renameSync(`${pdfPath}.partial`, pdfPath);
  return report;
}

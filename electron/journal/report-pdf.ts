import { writeFileSync, renameSync } from 'node:fs';
import { PDFDocument, StandardFonts, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import QRCode from 'qrcode';
import type { SignedEntry } from '../../shared/journal/entry';
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

/** The text a standard PDF font can draw: anything outside Latin-1 printable becomes '?'. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');
}

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
  line(text: string, options: { size?: number; bold?: boolean; color?: [number, number, number] } = {}): void {
    const size = options.size ?? 10;
    this.space(size + 4);
    this.page.drawText(printable(text), {
      x: PAGE.margin,
      y: this.y,
      size,
      font: options.bold ? this.bold : this.font,
      color: rgb(...(options.color ?? [0, 0, 0])),
    });
    this.y -= size + 4;
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
  const types = new Map<string, number>();
  for await (const text of fileLines(bundlePath)) {
    const record = JSON.parse(text) as { kind?: string; entry?: SignedEntry };
    if (record.kind !== 'entry' || !record.entry) continue;
    const e = record.entry;
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
    w.line(`${f.seq === null ? 'bundle' : `seq ${f.seq}`}: ${f.code}: ${f.reason}`.slice(0, 110), { size: 8 });
  w.line(`Receipts: ${report.receipts.valid}/${report.receipts.count} valid. Unclean session ends: ${report.chain.uncleanSessions}.`);
  w.gap();
  w.line('Head checkpoint', { size: 13, bold: true });
  const checkpoint = m?.lastCheckpoint ?? null;
  if (checkpoint) {
    w.line(`Checkpoint seq ${checkpoint.seq}, Merkle root ${checkpoint.root}`, { size: 8 });
    w.line(`Checkpoint entry hash: ${checkpoint.hash}`, { size: 9, bold: true });
    await w.image(
      await QRCode.toBuffer(`halfkey:checkpoint:${m!.vault}:${checkpoint.seq}:${checkpoint.hash}`, {
        type: 'png',
        errorCorrectionLevel: 'M',
        margin: 2,
        width: 240,
      }),
      140,
    );
  } else {
    w.line('The bundle has no checkpoint.');
  }
  w.gap();
  w.line('Entries by type', { size: 13, bold: true });
  for (const [type, n] of [...types].sort((a, b) => b[1] - a[1])) w.line(`${type}: ${n}`, { size: 9 });
  w.gap();
  w.line(`Checkouts (${checkoutCount})`, { size: 13, bold: true });
  for (const c of checkouts) {
    w.line(
      `#${c.seq} ${new Date(c.time).toISOString()} ${c.type} by ${c.actor ?? 'device'}; account ${c.account} ${c.item}`.slice(0, 110),
      { size: 8 },
    );
    if (c.reason) w.line(`    reason: ${c.reason}`.slice(0, 110), { size: 8 });
  }
  if (checkoutCount > checkouts.length) w.line(`... ${checkoutCount - checkouts.length} more in the CSV export.`, { size: 8 });
  const bytes = await doc.save();
  writeFileSync(`${pdfPath}.partial`, bytes, { mode: 0o600 });
  renameSync(`${pdfPath}.partial`, pdfPath);
  return report;
}

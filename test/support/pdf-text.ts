import { decodePDFRawStream, PDFArray, PDFDocument, PDFRawStream, type PDFPage } from 'pdf-lib';

// What pdf-lib draws with a standard font is one `<hex> Tj` per line in the page's content stream
// (Flate-compressed). These read it back with pdf-lib itself: the document must parse, and its
// text is what is actually on the page, not what a string search of the compressed file finds.

/** WinAnsi bytes that are not Latin-1, for the typography the runbook uses. */
const WIN_ANSI: Readonly<Record<number, string>> = { 0x85: '…', 0x91: '‘', 0x92: '’', 0x93: '“', 0x94: '”', 0x96: '–', 0x97: '—' };

function decode(hex: string): string {
  let text = '';
  for (let i = 0; i + 1 < hex.length; i += 2) {
    const byte = parseInt(hex.slice(i, i + 2), 16);
    text += WIN_ANSI[byte] ?? String.fromCharCode(byte);
  }
  return text;
}

function contentOf(page: PDFPage): string {
  const contents = page.node.Contents();
  const streams = contents instanceof PDFArray ? contents.asArray().map((ref) => page.doc.context.lookup(ref)) : [contents];
  return streams
    .map((stream) => (stream instanceof PDFRawStream ? Buffer.from(decodePDFRawStream(stream).decode()).toString('latin1') : ''))
    .join('\n');
}

/** The drawn lines of every page, in order, and the number of pages. */
export async function pdfLines(bytes: Uint8Array): Promise<{ pages: number; lines: string[]; title: string | undefined }> {
  const doc = await PDFDocument.load(bytes);
  const lines = doc.getPages().flatMap((page) => [...contentOf(page).matchAll(/<([0-9A-Fa-f]*)> Tj/g)].map((m) => decode(m[1] ?? '')));
  return { pages: doc.getPageCount(), lines, title: doc.getTitle() };
}

/** All the drawn text as one string, lines joined by a space: wrapping does not split what a test looks for. */
export const flat = (lines: readonly string[]): string => lines.join(' ').replace(/\s+/g, ' ');

import type { PDFFont } from 'pdf-lib';

/**
 * Splits a line of text into pieces no wider than `width` at `size`, breaking at a space where it
 * can (else mid-word). Continuation pieces keep the line's leading spaces plus `hang` more, so a
 * wrapped line reads as one. Used by the reconciliation report and the break-glass runbook.
 */
export function wrap(text: string, font: PDFFont, size: number, width: number, hang = 6): string[] {
  const pieces: string[] = [];
  let rest = text;
  const indent = /^\s*/.exec(text)?.[0] ?? '';
  const continuation = `${indent}${' '.repeat(hang)}`;
  while (font.widthOfTextAtSize(rest, size) > width) {
    let cut = rest.length;
    while (cut > 1 && font.widthOfTextAtSize(rest.slice(0, cut), size) > width) cut = Math.floor(cut * 0.9);
    const space = rest.lastIndexOf(' ', cut);
    const at = space > indent.length + 8 ? space : cut;
    pieces.push(rest.slice(0, at));
    rest = `${continuation}${rest.slice(at).trimStart()}`;
  }
  pieces.push(rest);
  return pieces;
}

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

/** Symbols people type that a standard PDF font has no glyph for, in words the font can draw. */
const SUBSTITUTES: Readonly<Record<string, string>> = {
  '✓': '[OK]',
  '✔': '[OK]',
  '☑': '[OK]',
  '✗': '[X]',
  '✘': '[X]',
  '☐': '[ ]',
  '→': '->',
  '←': '<-',
  '⇒': '=>',
  '≥': '>=',
  '≤': '<=',
  '≠': '!=',
};

/**
 * Text as `font` can draw it: characters in its encoding (for the standard fonts, WinAnsi: Latin-1
 * plus typographic quotes, dashes, … and €) as they are; common symbols in words (✓ → [OK]); any
 * other character as <U+XXXX>, so nothing a person typed silently turns into '?'. Control
 * characters become spaces.
 */
export function drawable(text: string, font: PDFFont): string {
  let charset = charsets.get(font);
  if (charset === undefined) {
    charset = new Set(font.getCharacterSet());
    charsets.set(font, charset);
  }
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += ' ';
    else if (charset.has(code)) out += ch;
    else out += SUBSTITUTES[ch] ?? `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
  }
  return out;
}
const charsets = new WeakMap<PDFFont, Set<number>>();

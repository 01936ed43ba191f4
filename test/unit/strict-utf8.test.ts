import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { strictUtf8 } from '../../electron/journal/strict-utf8';

/** The verifiers' decoder (electron/journal/strict-utf8.ts) against TextDecoder in fatal mode, the definition it keeps. */
const reference = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const outcome = (decode: () => string): string | { readonly refused: string } => {
  try {
    return decode();
  } catch (error) {
    return { refused: (error as Error).name };
  }
};

describe('strictUtf8', () => {
  it('reads ASCII, multi-byte text and a byte order mark exactly as the strict decoder does', () => {
    for (const text of ['{"entry":{"seq":1}}', 'Zoë Ångström — 鍵 🔑', '\uFEFF{"kind":"header"}', '', '\u007f\u0000']) {
      const bytes = new TextEncoder().encode(text);
      expect(strictUtf8(bytes)).toBe(text);
      // A view into a larger buffer, as the workers' ranges are.
      const framed = new Uint8Array(bytes.length + 8);
      framed.set(bytes, 4);
      expect(strictUtf8(framed.subarray(4, 4 + bytes.length))).toBe(text);
    }
  });

  it('refuses what is not UTF-8: a stray continuation byte, an overlong form, an encoded surrogate, a cut-short sequence', () => {
    for (const bytes of [[0x41, 0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff]]) {
      expect(() => strictUtf8(Uint8Array.from(bytes))).toThrow(TypeError);
    }
  });

  it('agrees with the strict decoder on any bytes, mostly ASCII or not', () => {
    const ascii = fc.uint8Array({ maxLength: 300 }).map((a) => a.map((b) => b & 0x7f));
    fc.assert(
      fc.property(
        fc.oneof(
          ascii,
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ unit: 'binary' }).map((s) => new TextEncoder().encode(s)),
        ),
        (bytes) => {
          expect(outcome(() => strictUtf8(bytes))).toEqual(outcome(() => reference.decode(bytes)));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

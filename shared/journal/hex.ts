// Hex conversions for the journal's per-entry paths (appends, verification): table-driven, so a
// call costs one string or array and no slicing or parsing per byte.

const HEX_DIGITS = '0123456789abcdef';
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4]! + HEX_DIGITS[i & 15]!);

/** Lowercase hex of bytes. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i]!]!;
  return out;
}

/** Value of one lowercase hex digit's char code. */
const nibble = (code: number): number => (code <= 57 ? code - 48 : code - 87);

/** Bytes of a lowercase hex string of whole bytes; throws RangeError on anything else. */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new RangeError('not lowercase hex of whole bytes');
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (nibble(hex.charCodeAt(i * 2)) << 4) | nibble(hex.charCodeAt(i * 2 + 1));
  return out;
}

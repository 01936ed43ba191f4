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

/** Value of each lowercase hex digit's char code; 16 for every other code below 128. */
const NIBBLE = new Uint8Array(128).fill(16);
for (let i = 0; i < 16; i++) NIBBLE[HEX_DIGITS.charCodeAt(i)] = i;

/** Bytes of a lowercase hex string of whole bytes; throws RangeError on anything else. */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new RangeError('not lowercase hex of whole bytes');
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) {
    const hi = NIBBLE[hex.charCodeAt(i * 2)] ?? 16;
    const lo = NIBBLE[hex.charCodeAt(i * 2 + 1)] ?? 16;
    if ((hi | lo) > 15) throw new RangeError('not lowercase hex of whole bytes');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

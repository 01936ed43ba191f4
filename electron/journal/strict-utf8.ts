import { isAscii } from 'node:buffer';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * UTF-8 bytes as text, refusing any byte sequence that is not UTF-8 (a TypeError, as TextDecoder
 * throws in fatal mode) and keeping a byte order mark as text. The files verified here are nearly
 * always ASCII (hex, JSON punctuation, plain-English reasons): ASCII bytes are the same text read
 * as Latin-1, which Node copies without decoding, about half the cost of the strict decoder on a
 * block of a few MiB (the org export's ranges). Anything else takes the strict decoder.
 */
export function strictUtf8(bytes: Uint8Array): string {
  if (isAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return decoder.decode(bytes);
}

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The text of the one QR code in a PNG, read by zbarimg. Only the QR decoder is enabled: with all
 * of zbar's decoders on, a QR module pattern now and then also reads as a linear barcode (a
 * Codabar "D25A" was seen in CI), which would be a second symbol appended to the output.
 * Anything other than exactly one QR symbol is an error.
 */
export function readQrPng(png: string): string {
  const out = execFileSync('zbarimg', ['--quiet', '--raw', '-Sdisable', '-Sqrcode.enable', png], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const symbols = out.replace(/\n$/, '').split('\n');
  if (symbols.length !== 1) throw new Error(`expected one QR code in ${png}, zbarimg read ${symbols.length}`);
  return symbols[0]!;
}

/** The text a QR data URL (data:image/png;base64,…) encodes. */
export function readQrDataUrl(dataUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-qr-'));
  try {
    const file = join(dir, 'qr.png');
    writeFileSync(file, Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
    return readQrPng(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

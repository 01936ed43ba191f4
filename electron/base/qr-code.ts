import QRCode from 'qrcode';

/** A short text as a QR code: a PNG data URL for the app and a block-character string for a terminal. */
export async function qrCodeOf(text: string): Promise<{ readonly dataUrl: string; readonly terminal: string }> {
  const [dataUrl, terminal] = await Promise.all([
    QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 2 }),
    QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' }),
  ]);
  return { dataUrl, terminal };
}

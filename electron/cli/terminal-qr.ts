import QRCode from 'qrcode';

/** A short text (the recovery key, a server key fingerprint) as a QR code in block characters, for a terminal. */
export function terminalQr(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}

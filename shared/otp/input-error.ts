/** Stable codes for every way OTP input can be wrong; a program branches on these, a person reads the message. */
export const OTP_ERROR_CODES = [
  'OTP_URI_TOO_LONG',
  'OTP_NOT_OTPAUTH',
  'OTP_HOTP_UNSUPPORTED',
  'OTP_TYPE_UNSUPPORTED',
  'OTP_BAD_PERCENT_ENCODING',
  'OTP_LABEL_INVALID',
  'OTP_ISSUER_INVALID',
  'OTP_ISSUER_MISMATCH',
  'OTP_DUPLICATE_PARAMETER',
  'OTP_SECRET_MISSING',
  'OTP_SECRET_INVALID_CHARACTER',
  'OTP_SECRET_INVALID_LENGTH',
  'OTP_SECRET_TOO_SHORT',
  'OTP_SECRET_TOO_LONG',
  'OTP_ALGORITHM_UNSUPPORTED',
  'OTP_DIGITS_INVALID',
  'OTP_PERIOD_INVALID',
  'OTP_TIME_INVALID',
  'OTP_PARAMS_INVALID',
] as const;

/** One of OTP_ERROR_CODES. */
export type OtpErrorCode = (typeof OTP_ERROR_CODES)[number];

/**
 * Bad OTP input (an otpauth URI, a typed secret, a sealed parameter blob). The message says what is
 * wrong and where, and never contains the secret or any part of it; nothing of the input is kept on
 * the error object.
 */
export class OtpInputError extends Error {
  constructor(
    readonly code: OtpErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OtpInputError';
  }
}

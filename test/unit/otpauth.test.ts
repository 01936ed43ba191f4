import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBase32, parseBase32Secret } from '../../shared/otp/base32';
import { OtpInputError, type OtpErrorCode } from '../../shared/otp/input-error';
import { parseOtpauthUri } from '../../shared/otp/otpauth';
import { totpCode } from '../../shared/otp/totp';

// 20 bytes "12345678901234567890", the RFC 6238 SHA-1 seed.
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const AWS_URI = `otpauth://totp/Amazon%20Web%20Services:root-account-mfa-device@123456789012?secret=${SECRET}&issuer=Amazon%20Web%20Services`;

function codeOf(run: () => unknown): OtpErrorCode | 'no error' {
  try {
    run();
  } catch (error) {
    if (error instanceof OtpInputError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('parseOtpauthUri accepts', () => {
  it('an AWS virtual MFA URI with defaults filled in', async () => {
    const params = parseOtpauthUri(AWS_URI);
    expect(params).toMatchObject({
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      issuer: 'Amazon Web Services',
      label: 'root-account-mfa-device@123456789012',
    });
    expect(params.secret).toEqual(new TextEncoder().encode('12345678901234567890'));
    expect((await totpCode(params, 59_000)).code).toBe('287082');
  });

  it('explicit parameters in any case and order, lower-case and padded secrets, unknown parameters', () => {
    const params = parseOtpauthUri(
      `OTPAUTH://TOTP/ACME%20Co:alice%40example.com?image=https%3A%2F%2Fx&Period=60&digits=8&ALGORITHM=sha512&secret=${SECRET.toLowerCase()}gezdgna%3D&issuer=ACME+Co&counter=4`,
    );
    expect(params).toMatchObject({ algorithm: 'SHA512', digits: 8, period: 60, issuer: 'ACME Co', label: 'alice@example.com' });
  });

  it('an issuer only in the label, only in the parameter, or nowhere', () => {
    expect(parseOtpauthUri(`otpauth://totp/ACME:alice?secret=${SECRET}`).issuer).toBe('ACME');
    expect(parseOtpauthUri(`otpauth://totp/alice?secret=${SECRET}&issuer=ACME`)).toMatchObject({ issuer: 'ACME', label: 'alice' });
    const bare = parseOtpauthUri(`otpauth://totp/alice?secret=${SECRET}`);
    expect(bare.issuer).toBeUndefined();
    expect(bare.label).toBe('alice');
    expect(parseOtpauthUri(`otpauth://totp/:alice?secret=${SECRET}&issuer=`)).toMatchObject({ label: 'alice' });
    expect(parseOtpauthUri(`otpauth://totp/:alice?secret=${SECRET}&issuer=`).issuer).toBeUndefined();
    expect(parseOtpauthUri(`otpauth://totp/:alice?secret=${SECRET}&issuer=ACME`).issuer).toBe('ACME');
  });

  it('a space after the colon in the label, and surrounding whitespace from a scanner', () => {
    expect(parseOtpauthUri(`  otpauth://totp/ACME:%20alice?secret=${SECRET}&issuer=ACME\n`)).toMatchObject({
      issuer: 'ACME',
      label: 'alice',
    });
  });
});

const MALFORMED: readonly (readonly [string, string, OtpErrorCode])[] = [
  ['not a URI', 'hello', 'OTP_NOT_OTPAUTH'],
  ['another scheme', `https://totp/x?secret=${SECRET}`, 'OTP_NOT_OTPAUTH'],
  ['single slash', `otpauth:/totp/x?secret=${SECRET}`, 'OTP_NOT_OTPAUTH'],
  ['HOTP', `otpauth://hotp/x?secret=${SECRET}&counter=1`, 'OTP_HOTP_UNSUPPORTED'],
  ['unknown type', `otpauth://motp/x?secret=${SECRET}`, 'OTP_TYPE_UNSUPPORTED'],
  ['empty type', `otpauth:///x?secret=${SECRET}`, 'OTP_TYPE_UNSUPPORTED'],
  ['too long', `otpauth://totp/x?secret=${SECRET}&pad=${'a'.repeat(2100)}`, 'OTP_URI_TOO_LONG'],
  ['no secret', 'otpauth://totp/ACME:alice?issuer=ACME', 'OTP_SECRET_MISSING'],
  ['empty secret', 'otpauth://totp/ACME:alice?secret=&issuer=ACME', 'OTP_SECRET_MISSING'],
  ['secret with a 1', `otpauth://totp/x?secret=${SECRET.slice(0, 10)}1${SECRET.slice(11)}`, 'OTP_SECRET_INVALID_CHARACTER'],
  ['secret with padding inside', `otpauth://totp/x?secret=GEZD%3DGNBVGY3TQOJQGEZDGNBVGY3TQOJQ`, 'OTP_SECRET_INVALID_CHARACTER'],
  ['secret of impossible length', `otpauth://totp/x?secret=${SECRET}A`, 'OTP_SECRET_INVALID_LENGTH'],
  ['secret with wrong padding', `otpauth://totp/x?secret=${SECRET.slice(0, 30)}%3D`, 'OTP_SECRET_INVALID_LENGTH'],
  ['secret of 10 bytes', `otpauth://totp/x?secret=${SECRET.slice(0, 16)}`, 'OTP_SECRET_TOO_SHORT'],
  ['secret of 15 bytes', `otpauth://totp/x?secret=${SECRET.slice(0, 24)}`, 'OTP_SECRET_TOO_SHORT'],
  ['secret of 65 bytes', `otpauth://totp/x?secret=${'A'.repeat(104)}`, 'OTP_SECRET_TOO_LONG'],
  ['secret text over the limit', `otpauth://totp/x?secret=${'A'.repeat(300)}`, 'OTP_SECRET_TOO_LONG'],
  ['two secrets', `otpauth://totp/x?secret=${SECRET}&secret=${SECRET}`, 'OTP_DUPLICATE_PARAMETER'],
  ['two issuers', `otpauth://totp/x?secret=${SECRET}&issuer=A&Issuer=B`, 'OTP_DUPLICATE_PARAMETER'],
  ['MD5', `otpauth://totp/x?secret=${SECRET}&algorithm=MD5`, 'OTP_ALGORITHM_UNSUPPORTED'],
  ['SHA-1 spelled with a dash', `otpauth://totp/x?secret=${SECRET}&algorithm=SHA-1`, 'OTP_ALGORITHM_UNSUPPORTED'],
  ['5 digits', `otpauth://totp/x?secret=${SECRET}&digits=5`, 'OTP_DIGITS_INVALID'],
  ['9 digits', `otpauth://totp/x?secret=${SECRET}&digits=9`, 'OTP_DIGITS_INVALID'],
  ['digits not a number', `otpauth://totp/x?secret=${SECRET}&digits=six`, 'OTP_DIGITS_INVALID'],
  ['empty digits', `otpauth://totp/x?secret=${SECRET}&digits=`, 'OTP_DIGITS_INVALID'],
  ['period 14', `otpauth://totp/x?secret=${SECRET}&period=14`, 'OTP_PERIOD_INVALID'],
  ['period 121', `otpauth://totp/x?secret=${SECRET}&period=121`, 'OTP_PERIOD_INVALID'],
  ['fractional period', `otpauth://totp/x?secret=${SECRET}&period=30.5`, 'OTP_PERIOD_INVALID'],
  ['negative period', `otpauth://totp/x?secret=${SECRET}&period=-30`, 'OTP_PERIOD_INVALID'],
  ['issuer mismatch', `otpauth://totp/Evil:alice?secret=${SECRET}&issuer=ACME`, 'OTP_ISSUER_MISMATCH'],
  ['broken escape in label', `otpauth://totp/ACME%ZZ:alice?secret=${SECRET}`, 'OTP_BAD_PERCENT_ENCODING'],
  ['broken escape in secret', `otpauth://totp/x?secret=${SECRET}%E0`, 'OTP_BAD_PERCENT_ENCODING'],
  ['control character in label', `otpauth://totp/ACME:al%00ice?secret=${SECRET}`, 'OTP_LABEL_INVALID'],
  ['label too long', `otpauth://totp/${'a'.repeat(300)}?secret=${SECRET}`, 'OTP_LABEL_INVALID'],
  ['issuer too long', `otpauth://totp/x?secret=${SECRET}&issuer=${'a'.repeat(200)}`, 'OTP_ISSUER_INVALID'],
  ['issuer with a colon', `otpauth://totp/x?secret=${SECRET}&issuer=A%3AB`, 'OTP_ISSUER_INVALID'],
  ['control character in issuer', `otpauth://totp/x?secret=${SECRET}&issuer=A%0AB`, 'OTP_ISSUER_INVALID'],
];

describe('parseOtpauthUri refuses', () => {
  it.each(MALFORMED)('%s with its own code', (_name, uri, code) => {
    expect(codeOf(() => parseOtpauthUri(uri))).toBe(code);
  });

  it('a non-string input', () => {
    expect(codeOf(() => parseOtpauthUri(42 as unknown as string))).toBe('OTP_NOT_OTPAUTH');
  });
});

describe('parseOtpauthUri on arbitrary input', () => {
  it('either returns checked parameters or throws OtpInputError, never anything else', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        'otpauth://',
        'totp/',
        'hotp/',
        ':',
        '?',
        '&',
        '=',
        '#',
        '%',
        '%3A',
        '%E0',
        '+',
        'secret=',
        'issuer=',
        'digits=',
        'period=',
        'algorithm=',
        SECRET,
        'sha256',
      ),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        const uri = pieces.join('');
        try {
          const p = parseOtpauthUri(uri);
          expect(p.secret.length).toBeGreaterThanOrEqual(16);
          expect([6, 7, 8]).toContain(p.digits);
          expect(p.period).toBeGreaterThanOrEqual(15);
          expect(p.period).toBeLessThanOrEqual(120);
        } catch (error) {
          expect(error).toBeInstanceOf(OtpInputError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseBase32Secret', () => {
  it('names the position of a bad character, counting from 1 in the text as typed', () => {
    expect(() => parseBase32Secret('GEZD GNB! GY3T QOJQ GEZD GNBV GY3T QOJQ')).toThrow(
      'Character 9 of the secret is not a base32 character',
    );
  });

  it('states the 128-bit minimum and the actual size', () => {
    expect(() => parseBase32Secret(SECRET.slice(0, 24))).toThrow(
      'The secret is 15 bytes (120 bits); Halfkey requires at least 16 bytes (128 bits)',
    );
  });
});

describe('error messages never contain the secret', () => {
  it('for every malformed URI in the table', () => {
    for (const [, uri] of MALFORMED) {
      const message = messageOf(() => parseOtpauthUri(uri));
      expect(message).not.toContain(SECRET);
      expect(message.toUpperCase()).not.toContain(SECRET.slice(0, 8));
    }
  });

  it('for random secrets broken in random ways', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 10, maxLength: 40 }),
        fc.nat(),
        fc.constantFrom('1', '8', '0', '!', '-', 'é', '=', '%'),
        fc.constantFrom('sha1', 'MD5', 'sha512'),
        fc.constantFrom('6', '9', 'x'),
        (bytes, at, bad, algorithm, digits) => {
          const secret = encodeBase32(bytes);
          const cut = at % (secret.length + 1);
          const broken = secret.slice(0, cut) + bad + secret.slice(cut);
          for (const candidate of [secret, broken]) {
            for (const uri of [
              `otpauth://totp/ACME:alice?secret=${candidate}&algorithm=${algorithm}&digits=${digits}`,
              `otpauth://totp/Evil:alice?secret=${candidate}&issuer=ACME`,
            ]) {
              const message = messageOf(() => parseOtpauthUri(uri));
              // Any 6-character run of the secret would be a leak; shorter runs occur by chance in words.
              for (let i = 0; i + 6 <= secret.length; i++) expect(message.toUpperCase()).not.toContain(secret.slice(i, i + 6));
            }
            const typed = messageOf(() => parseBase32Secret(candidate));
            for (let i = 0; i + 6 <= secret.length; i++) expect(typed.toUpperCase()).not.toContain(secret.slice(i, i + 6));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof OtpInputError) return `${error.message} ${JSON.stringify(error)}`;
    throw error;
  }
  return '';
}

import { beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import { deserializeTotpParams } from '../../shared/otp/totp';
import { sodiumReady } from '../../shared/sodium';
import { otpauthUri, parseSeed } from '../../electron/custody/totp-seed';
import { parseOtpauthUri } from '../../shared/otp/otpauth';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

function caught(fn: () => unknown): HalfkeyError {
  try {
    fn();
  } catch (error) {
    if (error instanceof HalfkeyError) return error;
    throw error;
  }
  throw new Error('expected a HalfkeyError');
}

describe('MFA seed import', () => {
  beforeAll(async () => {
    await sodiumReady();
  });

  it('accepts base32 (as AWS shows it) and an otpauth URI with its parameters', () => {
    const manual = deserializeTotpParams(parseSeed(` ${SECRET.toLowerCase()} `));
    expect(manual).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30 });
    const uri = deserializeTotpParams(
      parseSeed(
        `otpauth://totp/Amazon%20Web%20Services:root@example.com?secret=${SECRET}&issuer=Amazon%20Web%20Services&digits=8&period=60&algorithm=SHA256`,
      ),
    );
    expect(uri).toMatchObject({ algorithm: 'SHA256', digits: 8, period: 60, issuer: 'Amazon Web Services', label: 'root@example.com' });
    expect(Array.from(uri.secret)).toEqual(Array.from(manual.secret));
  });

  it('rejects bad seeds with INVALID_PAYLOAD, the OTP reason code, and never the secret in the message', () => {
    const cases: [string, string][] = [
      [`${SECRET.slice(0, 20)}1890`, 'OTP_SECRET_INVALID_CHARACTER'],
      ['JBSWY3DP', 'OTP_SECRET_TOO_SHORT'],
      [`otpauth://hotp/x?secret=${SECRET}&counter=1`, 'OTP_HOTP_UNSUPPORTED'],
      [`otpauth://totp/x?secret=${SECRET}&digits=9`, 'OTP_DIGITS_INVALID'],
      ['otpauth://totp/x?issuer=y', 'OTP_SECRET_MISSING'],
    ];
    for (const [input, reason] of cases) {
      const error = caught(() => parseSeed(input));
      expect(error.code).toBe('INVALID_PAYLOAD');
      expect(error.detail).toMatchObject({ field: 'seed', reason });
      expect(error.message).toMatch(/^The MFA seed was not accepted: /);
      expect(error.message).not.toContain(SECRET.slice(0, 8));
      expect(JSON.stringify(error.detail)).not.toContain(SECRET.slice(0, 8));
    }
  });

  it('builds an otpauth URI that parses back to the same parameters (seed export)', () => {
    const params = deserializeTotpParams(parseSeed(`otpauth://totp/ACME:root?secret=${SECRET}&issuer=ACME&period=30`));
    const back = parseOtpauthUri(otpauthUri(params));
    expect(back).toMatchObject({ issuer: 'ACME', label: 'root', algorithm: 'SHA1', digits: 6, period: 30 });
    expect(Array.from(back.secret)).toEqual(Array.from(params.secret));
  });
});

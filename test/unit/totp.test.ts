import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBase32, parseBase32Secret } from '../../shared/otp/base32';
import { OtpInputError } from '../../shared/otp/input-error';
import {
  deserializeTotpParams,
  enrolmentCodes,
  manualTotpParams,
  serializeTotpParams,
  totpCode,
  type TotpAlgorithm,
  type TotpParams,
} from '../../shared/otp/totp';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

// RFC 6238 Appendix B: the published seeds (ASCII digits, one HMAC block size each) and 8-digit codes.
const SEEDS: Readonly<Record<TotpAlgorithm, Uint8Array>> = {
  SHA1: ascii('12345678901234567890'),
  SHA256: ascii('12345678901234567890123456789012'),
  SHA512: ascii('1234567890123456789012345678901234567890123456789012345678901234'),
};
const RFC6238: readonly (readonly [number, TotpAlgorithm, string])[] = [
  [59, 'SHA1', '94287082'],
  [59, 'SHA256', '46119246'],
  [59, 'SHA512', '90693936'],
  [1111111109, 'SHA1', '07081804'],
  [1111111109, 'SHA256', '68084774'],
  [1111111109, 'SHA512', '25091201'],
  [1111111111, 'SHA1', '14050471'],
  [1111111111, 'SHA256', '67062674'],
  [1111111111, 'SHA512', '99943326'],
  [1234567890, 'SHA1', '89005924'],
  [1234567890, 'SHA256', '91819424'],
  [1234567890, 'SHA512', '93441116'],
  [2000000000, 'SHA1', '69279037'],
  [2000000000, 'SHA256', '90698825'],
  [2000000000, 'SHA512', '38618901'],
  [20000000000, 'SHA1', '65353130'],
  [20000000000, 'SHA256', '77737706'],
  [20000000000, 'SHA512', '47863826'],
];

describe('totpCode', () => {
  it.each(RFC6238)('matches RFC 6238 Appendix B at T=%i with %s', async (seconds, algorithm, expected) => {
    const result = await totpCode({ secret: SEEDS[algorithm], algorithm, digits: 8, period: 30 }, seconds * 1000);
    expect(result.code).toBe(expected);
    expect(result.counter).toBe(Math.floor(seconds / 30));
  });

  it('reports the time left in the step', async () => {
    const params: TotpParams = { secret: SEEDS.SHA1, algorithm: 'SHA1', digits: 6, period: 30 };
    expect((await totpCode(params, 59_000)).remainingMs).toBe(1_000);
    expect((await totpCode(params, 60_000)).remainingMs).toBe(30_000);
    expect((await totpCode(params, 60_001)).remainingMs).toBe(29_999);
  });

  it('agrees with oathtool for random seeds, times, algorithms, digit counts and periods', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 16, maxLength: 64 }),
        fc.constantFrom<TotpAlgorithm>('SHA1', 'SHA256', 'SHA512'),
        fc.constantFrom<6 | 7 | 8>(6, 7, 8),
        fc.integer({ min: 15, max: 120 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        async (secret, algorithm, digits, period, seconds) => {
          const ours = await totpCode({ secret, algorithm, digits, period }, seconds * 1000 + 999);
          const hex = Buffer.from(secret).toString('hex');
          const theirs = execFileSync(
            'oathtool',
            [`--totp=${algorithm.toLowerCase()}`, `--digits=${digits}`, `--time-step-size=${period}s`, `--now=@${seconds}`, hex],
            {
              encoding: 'utf8',
            },
          ).trim();
          expect(ours.code).toBe(theirs);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses times and parameters out of range with a coded error', async () => {
    const params: TotpParams = { secret: SEEDS.SHA1, algorithm: 'SHA1', digits: 6, period: 30 };
    await expect(totpCode(params, -1)).rejects.toMatchObject({ code: 'OTP_TIME_INVALID' });
    await expect(totpCode(params, Number.NaN)).rejects.toMatchObject({ code: 'OTP_TIME_INVALID' });
    await expect(totpCode({ ...params, secret: SEEDS.SHA1.slice(0, 15) }, 0)).rejects.toMatchObject({ code: 'OTP_SECRET_TOO_SHORT' });
    await expect(totpCode({ ...params, period: 10 }, 0)).rejects.toMatchObject({ code: 'OTP_PERIOD_INVALID' });
  });
});

describe('enrolmentCodes', () => {
  it('gives the current step and the next step, matching oathtool for both', async () => {
    const secret = SEEDS.SHA1;
    const pair = await enrolmentCodes({ secret, algorithm: 'SHA1', digits: 6, period: 30 }, 1_234_567_890_123);
    const hex = Buffer.from(secret).toString('hex');
    const at = (s: number): string => execFileSync('oathtool', ['--totp', '--digits=6', `--now=@${s}`, hex], { encoding: 'utf8' }).trim();
    expect(pair.first).toBe(at(1_234_567_890));
    expect(pair.second).toBe(at(1_234_567_890 + 30));
    expect(pair.first).not.toBe(pair.second);
    expect(pair.counter).toBe(Math.floor(1_234_567_890 / 30));
  });
});

describe('manualTotpParams', () => {
  it('takes a typed base32 secret with AWS defaults', async () => {
    const typed = 'gezd gnbv gy3t qojq gezd gnbv gy3t qojq';
    const params = manualTotpParams(typed, { issuer: 'Amazon Web Services', label: 'root@123456789012' });
    expect(params).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, issuer: 'Amazon Web Services' });
    expect((await totpCode(params, 59_000)).code).toBe('287082');
  });
});

describe('serializeTotpParams / deserializeTotpParams', () => {
  const params = fc.record(
    {
      secret: fc.uint8Array({ minLength: 16, maxLength: 64 }),
      algorithm: fc.constantFrom<TotpAlgorithm>('SHA1', 'SHA256', 'SHA512'),
      digits: fc.constantFrom<6 | 7 | 8>(6, 7, 8),
      period: fc.integer({ min: 15, max: 120 }),
      issuer: fc.string({ maxLength: 40, unit: 'grapheme' }),
      label: fc.string({ maxLength: 60, unit: 'grapheme' }),
    },
    { requiredKeys: ['secret', 'algorithm', 'digits', 'period'] },
  );

  it('round-trips every field, with and without issuer and label', () => {
    fc.assert(
      fc.property(params, (p) => {
        expect(deserializeTotpParams(serializeTotpParams(p))).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses truncated, extended or altered blobs', () => {
    const blob = serializeTotpParams({ secret: SEEDS.SHA256, algorithm: 'SHA256', digits: 8, period: 60, issuer: 'AWS', label: 'root' });
    const cases: Uint8Array[] = [
      blob.slice(0, blob.length - 1),
      blob.slice(0, 5),
      new Uint8Array([...blob, 0]),
      Uint8Array.from(blob, (b, i) => (i === 0 ? 2 : b)), // version
      Uint8Array.from(blob, (b, i) => (i === 2 ? 9 : b)), // algorithm
      Uint8Array.from(blob, (b, i) => (i === 3 ? 9 : b)), // digits
      Uint8Array.from(blob, (b, i) => (i === 5 ? 8 : b)), // secret length below the minimum
    ];
    for (const bad of cases) {
      expect(() => deserializeTotpParams(bad)).toThrow(OtpInputError);
    }
    expect(() => deserializeTotpParams(blob.slice(0, blob.length - 1))).toThrow(/malformed/);
  });

  it('turns arbitrary bytes into checked parameters or OtpInputError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0, 1), (bytes, lead) => {
        // Half the inputs start like a real blob (version 1) so decoding gets past the first byte.
        const blob = lead === 1 && bytes.length > 0 ? Uint8Array.from(bytes, (b, i) => (i === 0 ? 1 : b)) : bytes;
        try {
          const p = deserializeTotpParams(blob);
          expect(p.secret.length).toBeGreaterThanOrEqual(16);
        } catch (error) {
          expect(error).toBeInstanceOf(OtpInputError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('base32', () => {
  it('round-trips bytes through encodeBase32 and parseBase32Secret, in any case and with spaces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 64 }), fc.boolean(), (bytes, lower) => {
        const text = encodeBase32(bytes);
        const typed = (lower ? text.toLowerCase() : text).replace(/(.{4})/g, '$1 ');
        expect(parseBase32Secret(typed)).toEqual(bytes);
        const padded = text + '='.repeat((8 - (text.length % 8)) % 8);
        expect(parseBase32Secret(padded)).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it('agrees with the RFC 4648 test vector', () => {
    expect(encodeBase32(ascii('foobar'))).toBe('MZXW6YTBOI');
  });
});

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { HalfkeyError } from '../../shared/api/result';
import {
  AWS_SYMBOLS,
  CHARACTER_CLASSES,
  checkAwsRootPassword,
  generatePassword,
  type CharacterClass,
} from '../../shared/password/generator';
import { sodiumReady } from '../../shared/sodium';

beforeAll(async () => {
  await sodiumReady();
});

const CLASS_NAMES = Object.keys(CHARACTER_CLASSES) as CharacterClass[];
const classOf = (ch: string): CharacterClass | undefined => CLASS_NAMES.find((name) => CHARACTER_CLASSES[name].includes(ch));

/** Pearson's chi-square statistic of observed counts against expected counts. */
function chiSquare(observed: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const [ch, e] of expected) sum += ((observed.get(ch) ?? 0) - e) ** 2 / e;
  return sum;
}

describe('generatePassword', () => {
  it('defaults to 32 characters from all four AWS classes', () => {
    const pw = generatePassword();
    expect(pw).toHaveLength(32);
    expect(checkAwsRootPassword(pw)).toEqual([]);
    for (const name of CLASS_NAMES) expect([...pw].some((ch) => classOf(ch) === name)).toBe(true);
  });

  it('meets the AWS rules and the requested shape for any valid options', () => {
    const classes = fc
      .record({ upper: fc.boolean(), lower: fc.boolean(), digits: fc.boolean(), symbols: fc.boolean() })
      .filter((c) => Object.values(c).filter(Boolean).length >= 3);
    fc.assert(
      fc.property(fc.integer({ min: 8, max: 128 }), classes, (length, chosen) => {
        const pw = generatePassword({ length, classes: chosen });
        expect(pw).toHaveLength(length);
        expect(checkAwsRootPassword(pw)).toEqual([]);
        for (const ch of pw) {
          const name = classOf(ch);
          expect(name !== undefined && chosen[name]).toBe(true);
        }
        for (const name of CLASS_NAMES) {
          if (chosen[name]) expect([...pw].some((ch) => classOf(ch) === name)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never repeats across many draws (it is random, not seeded)', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => generatePassword({ length: 8 })));
    expect(seen.size).toBe(2000);
  });

  it('spreads characters as the construction predicts (chi-square, overall and at the first position)', () => {
    // Each password holds one guaranteed character per class plus length-4 draws from all 83
    // characters, shuffled; so a character of class c is expected (1/|c| + (L-4)/83) times per
    // password overall, and 1/L of that at any one position. 82 degrees of freedom: mean 82,
    // standard deviation about 12.8; the bound of 160 is six deviations out, so it does not flake,
    // yet a modulo bias or a missing shuffle lands far above it.
    const samples = 6000;
    const length = 32;
    const all = CLASS_NAMES.map((n) => CHARACTER_CLASSES[n]).join('');
    const overall = new Map<string, number>();
    const first = new Map<string, number>();
    for (let i = 0; i < samples; i++) {
      const pw = generatePassword({ length });
      for (const ch of pw) overall.set(ch, (overall.get(ch) ?? 0) + 1);
      first.set(pw.charAt(0), (first.get(pw.charAt(0)) ?? 0) + 1);
    }
    const perPassword = (ch: string): number => {
      const name = classOf(ch);
      if (name === undefined) throw new Error('generated a character outside the classes');
      return 1 / CHARACTER_CLASSES[name].length + (length - CLASS_NAMES.length) / all.length;
    };
    const expectedOverall = new Map([...all].map((ch) => [ch, samples * perPassword(ch)]));
    const expectedFirst = new Map([...all].map((ch) => [ch, (samples * perPassword(ch)) / length]));
    expect([...overall.keys()].every((ch) => all.includes(ch))).toBe(true);
    expect(chiSquare(overall, expectedOverall)).toBeLessThan(160);
    expect(chiSquare(first, expectedFirst)).toBeLessThan(160);
  });

  it('refuses lengths and class choices AWS would not accept, naming the field', () => {
    const refusal = (run: () => unknown): HalfkeyError => {
      try {
        run();
      } catch (error) {
        if (error instanceof HalfkeyError) return error;
        throw error;
      }
      throw new Error('expected a refusal');
    };
    for (const length of [7, 129, 8.5, Number.NaN]) {
      const e = refusal(() => generatePassword({ length }));
      expect(e.code).toBe('INVALID_PAYLOAD');
      expect(e.detail).toEqual({ field: 'length' });
      expect(e.message).toContain('from 8 to 128');
    }
    const two = refusal(() => generatePassword({ classes: { upper: true, lower: true, digits: false, symbols: false } }));
    expect(two.message).toContain('at least 3 of the character classes');
    expect(two.detail).toEqual({ field: 'classes' });
  });
});

describe('checkAwsRootPassword', () => {
  it('lists every broken rule, without quoting the password', () => {
    const violations = checkAwsRootPassword('Secret1', {});
    expect(violations.map((v) => v.rule)).toEqual(['length']);
    expect(checkAwsRootPassword('abcdefghij').map((v) => v.rule)).toEqual(['character-classes']);
    expect(checkAwsRootPassword('abcdefgh12').map((v) => v.rule)).toEqual(['character-classes']);
    expect(checkAwsRootPassword('abcdefgh1!')).toEqual([]);
    expect(checkAwsRootPassword('x'.repeat(129)).map((v) => v.rule)).toEqual(['length', 'character-classes']);
    for (const v of [...violations, ...checkAwsRootPassword('abcdefghij')]) expect(v.message).not.toContain('Secret1');
  });

  it('counts exactly the AWS symbols as symbols', () => {
    for (const symbol of AWS_SYMBOLS) expect(checkAwsRootPassword(`abcdefg1${symbol}`)).toEqual([]);
    expect(checkAwsRootPassword('abcdefg1.').map((v) => v.rule)).toEqual(['character-classes']);
  });

  it('refuses the account name and the root e-mail, case-insensitively', () => {
    const account = { accountName: 'Prod-Root1!', email: 'Root+Prod1@Example.com' };
    expect(checkAwsRootPassword('prod-root1!', account).map((v) => v.rule)).toEqual(['equals-account-name']);
    expect(checkAwsRootPassword('ROOT+PROD1@EXAMPLE.COM', account).map((v) => v.rule)).toEqual(['equals-email']);
    expect(checkAwsRootPassword('Prod-Root2!', account)).toEqual([]);
  });

  it('agrees with the generator: nothing generated breaks a rule, even with the names to avoid', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 40 }), fc.emailAddress(), (accountName, email) => {
        const pw = generatePassword({ length: 8, forbid: [accountName, email] });
        expect(checkAwsRootPassword(pw, { accountName, email })).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

import { HalfkeyError } from '../api/result';
import { sodiumNow } from '../sodium';

/** The symbols AWS lists for root passwords. */
export const AWS_SYMBOLS = '!@#$%^&*()<>[]{}|_+-=';

/** The four character classes AWS counts; a root password needs at least three of them. */
export const CHARACTER_CLASSES = {
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  lower: 'abcdefghijklmnopqrstuvwxyz',
  digits: '0123456789',
  symbols: AWS_SYMBOLS,
} as const;

/** One of the four character classes. */
export type CharacterClass = keyof typeof CHARACTER_CLASSES;

const CLASS_NAMES: readonly CharacterClass[] = ['upper', 'lower', 'digits', 'symbols'];

/** AWS root password length limits. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 128;
/** Length used when none is asked for. */
export const DEFAULT_PASSWORD_LENGTH = 32;
/** Fewest character classes AWS accepts. */
export const MIN_CLASSES = 3;

/** What a generated password should look like; every field optional. */
export interface PasswordOptions {
  readonly length?: number;
  readonly classes?: Readonly<Record<CharacterClass, boolean>>;
  /** Values the password must not equal, case-insensitively (AWS: the account name and the root e-mail). */
  readonly forbid?: readonly string[];
}

/**
 * A random password that meets the AWS root password rules: 8–128 characters (default 32), at least
 * one character of each chosen class (at least three classes), never equal to a `forbid` entry.
 * Randomness is libsodium's `randombytes_uniform` (no modulo bias); await sodiumReady() once before calling.
 * The result is a secret: it goes to the vault and to the person who asked, nowhere else.
 */
export function generatePassword(options: PasswordOptions = {}): string {
  const length = options.length ?? DEFAULT_PASSWORD_LENGTH;
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `Password length must be a whole number from ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH}, not ${String(length)}.`,
      {
        field: 'length',
      },
    );
  }
  const classes = options.classes ?? { upper: true, lower: true, digits: true, symbols: true };
  const chosen = CLASS_NAMES.filter((name) => classes[name]);
  if (chosen.length < MIN_CLASSES) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `AWS root passwords need at least ${MIN_CLASSES} of the character classes upper, lower, digits, symbols; only ${chosen.length} chosen.`,
      {
        field: 'classes',
      },
    );
  }
  const forbid = options.forbid ?? [];
  const sodium = sodiumNow();
  const pick = (alphabet: string): string => alphabet.charAt(sodium.randombytes_uniform(alphabet.length));
  const all = chosen.map((name) => CHARACTER_CLASSES[name]).join('');
  // A clash with a forbidden value is astronomically unlikely at 8+ random characters; the bound
  // only guarantees termination if a caller forbids something absurd.
  for (let attempt = 0; attempt < 32; attempt++) {
    const chars = chosen.map((name) => pick(CHARACTER_CLASSES[name]));
    while (chars.length < length) chars.push(pick(all));
    // Fisher–Yates, so the guaranteed characters are not always at the front.
    for (let i = chars.length - 1; i > 0; i--) {
      const j = sodium.randombytes_uniform(i + 1);
      const swap = chars[i] ?? '';
      chars[i] = chars[j] ?? '';
      chars[j] = swap;
    }
    const password = chars.join('');
    if (!forbid.some((value) => sameText(value, password))) return password;
  }
  throw new HalfkeyError(
    'INTERNAL',
    'Could not generate a password that differs from the forbidden values; check the account name and e-mail given.',
  );
}

/** A rule of the AWS root password policy that a password breaks. */
export interface PasswordViolation {
  readonly rule: 'length' | 'character-classes' | 'equals-account-name' | 'equals-email';
  /** Says what is wrong without quoting the password. */
  readonly message: string;
}

/** Every AWS root password rule `password` breaks; empty when it is acceptable. */
export function checkAwsRootPassword(
  password: string,
  account: { readonly accountName?: string; readonly email?: string } = {},
): readonly PasswordViolation[] {
  const violations: PasswordViolation[] = [];
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    violations.push({
      rule: 'length',
      message: `The password has ${length} characters; AWS requires ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH}.`,
    });
  }
  const present = CLASS_NAMES.filter((name) => [...password].some((ch) => CHARACTER_CLASSES[name].includes(ch)));
  if (present.length < MIN_CLASSES) {
    violations.push({
      rule: 'character-classes',
      message: `The password uses ${present.length} of the character classes (upper, lower, digits, symbols ${AWS_SYMBOLS}); AWS requires at least ${MIN_CLASSES}.`,
    });
  }
  if (account.accountName !== undefined && sameText(account.accountName, password)) {
    violations.push({ rule: 'equals-account-name', message: 'The password is the same as the AWS account name.' });
  }
  if (account.email !== undefined && sameText(account.email, password)) {
    violations.push({ rule: 'equals-email', message: 'The password is the same as the root user e-mail address.' });
  }
  return violations;
}

function sameText(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

import { describe, expect, it } from 'vitest';
import { passphraseHint } from '../../renderer/src/components/PassphraseStrength';
import { accountIdProblem } from '../../renderer/src/accounts/AddAccountForm';
import { msUntil } from '../../renderer/src/api/call';
import { groupCode } from '../../renderer/src/checkout/TotpCode';

describe('passphrase strength hint (mirrors the vault floor, never repeats the passphrase)', () => {
  it('grades by length and variety', () => {
    expect(passphraseHint('').level).toBe('empty');
    expect(passphraseHint('short').text).toBe('Too short: 5 of at least 12 characters.');
    expect(passphraseHint('abababababababab').level).toBe('weak');
    expect(passphraseHint('abababababababab').text).toContain('at least 6 different characters');
    expect(passphraseHint('granite orbit 4').level).toBe('fair');
    expect(passphraseHint('granite orbit velvet canyon').level).toBe('strong');
  });

  it('counts characters, not UTF-16 units', () => {
    // Eleven emoji are 22 UTF-16 units but eleven characters: still too short.
    const eleven = '😀😁😂😃😄😅😆😇😈😉😊';
    expect(eleven.length).toBe(22);
    expect(passphraseHint(eleven).text).toBe('Too short: 11 of at least 12 characters.');
  });

  it('never includes the passphrase or a piece of it in the hint', () => {
    for (const secret of ['Qz7#Xv2!Lp9$Wm', 'Kj4%Rt8&Yb1^Nc6*Hd3@Fg5', 'Zx']) {
      const { text } = passphraseHint(secret);
      for (let i = 0; i + 4 <= secret.length; i += 1) expect(text).not.toContain(secret.slice(i, i + 4));
    }
  });
});

describe('inline AWS account id check', () => {
  it('accepts exactly 12 digits and says what is wrong otherwise', () => {
    expect(accountIdProblem('')).toBeNull();
    expect(accountIdProblem('123456789012')).toBeNull();
    expect(accountIdProblem('1234567')).toBe('An AWS account id is exactly 12 digits (7 so far).');
    expect(accountIdProblem('1234567890123')).toBe('An AWS account id is exactly 12 digits (13 so far).');
    expect(accountIdProblem('12345678901a')).toBe('Only digits: an AWS account id is exactly 12 digits.');
    expect(accountIdProblem('1234 5678 9012')).toContain('Only digits');
  });
});

describe('code grouping and countdown arithmetic', () => {
  it('groups six-digit codes for reading, leaves others alone', () => {
    expect(groupCode('123456')).toBe('123 456');
    expect(groupCode('12345678')).toBe('12345678');
  });

  it('never counts below zero', () => {
    expect(msUntil(1_000, 400)).toBe(600);
    expect(msUntil(1_000, 5_000)).toBe(0);
  });
});

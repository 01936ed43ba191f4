import { beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { backoffAfter, MAX_BACKOFF_MS } from '../../electron/vault/custodians';
import { deriveDeviceKeys } from '../../electron/vault/device-key';
import { checkPassphraseStrength } from '../../electron/vault/passphrase';
import {
  formatRecoveryKey,
  newRecoveryKey,
  parseRecoveryKey,
  unwrapDeviceMaster,
  wrapDeviceMaster,
} from '../../electron/vault/recovery-key';

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const VAULT = 'ab'.repeat(16);

describe('device keys', () => {
  it('seal/open round-trips and refuses another row (AAD), a flipped bit, and use after forget', () => {
    const device = deriveDeviceKeys(VAULT, sodium.crypto_kdf_keygen(), sodium);
    const plain = sodium.from_string('secret half');
    const sealed = device.seal(plain, 'half:acc:password:c1:1');
    expect(sodium.to_string(device.open(sealed, 'half:acc:password:c1:1'))).toBe('secret half');
    expect(() => device.open(sealed, 'half:acc:password:c2:1')).toThrow(/altered or moved to another row/);
    const flipped = sealed.slice();
    flipped[flipped.length - 1]! ^= 1;
    expect(() => device.open(flipped, 'half:acc:password:c1:1')).toThrow(/does not open/);
    expect(() => device.open(flipped, 'half:acc:password:c1:1')).not.toThrow(/c1/);
    device.forget();
    expect(() => device.seal(plain, 'x')).toThrow(/closed/);
    expect(() => device.signer.sign(plain)).toThrow(/closed/);
  });

  it('derives the same signer from the same master and a different one from another', () => {
    const master = sodium.crypto_kdf_keygen();
    expect(deriveDeviceKeys(VAULT, master, sodium).signer.publicKey).toBe(deriveDeviceKeys(VAULT, master.slice(), sodium).signer.publicKey);
    expect(deriveDeviceKeys(VAULT, sodium.crypto_kdf_keygen(), sodium).signer.publicKey).not.toBe(
      deriveDeviceKeys(VAULT, master, sodium).signer.publicKey,
    );
  });
});

describe('recovery key', () => {
  it('round-trips through its text form and unwraps only its own vault master', () => {
    const { bytes, text } = newRecoveryKey(sodium);
    expect(text).toMatch(/^HK1(-[0-9A-HJKMNP-TV-Z]{6}){8}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(parseRecoveryKey(text, sodium)).toEqual(bytes);
    expect(formatRecoveryKey(bytes, sodium)).toBe(text);
    const master = sodium.crypto_kdf_keygen();
    const wrapped = wrapDeviceMaster(master, bytes, VAULT, sodium);
    expect(unwrapDeviceMaster(wrapped, bytes, VAULT, sodium)).toEqual(master);
    expect(() => unwrapDeviceMaster(wrapped, bytes, 'cd'.repeat(16), sodium)).toThrow(/not the one made for vault/);
    expect(() => unwrapDeviceMaster(wrapped, newRecoveryKey(sodium).bytes, VAULT, sodium)).toThrow(/not the one made for vault/);
  });

  it('catches every single-character substitution with a clear error', () => {
    const { text } = newRecoveryKey(sodium);
    let caught = 0;
    let positions = 0;
    for (let i = 4; i < text.length; i += 1) {
      if (text[i] === '-') continue;
      positions += 1;
      const swapped = text.slice(0, i) + (text[i] === 'Z' ? 'Y' : 'Z') + text.slice(i + 1);
      try {
        parseRecoveryKey(swapped, sodium);
      } catch (error) {
        if (/mistyped/.test((error as Error).message)) caught += 1;
      }
    }
    // A 20-bit check misses a given typo with probability 2^-20; over 52 positions that is negligible.
    expect(caught).toBe(positions);
    expect(() => parseRecoveryKey(`${text}U`, sodium)).toThrow(/never used in recovery keys at position/);
  });
});

describe('passphrase strength and back-off', () => {
  it('refuses short, repetitive, name-based and common passphrases with a reason', () => {
    const who = { name: 'Carol Clerk', organisation: 'Customer plc' };
    expect(() => checkPassphraseStrength('short', who)).toThrow(/at least 12 characters/);
    expect(() => checkPassphraseStrength('aaaaaaaaaaaaaaaa', who)).toThrow(/different characters/);
    expect(() => checkPassphraseStrength('Carol Clerk 2024', who)).toThrow(/custodian name/);
    expect(() => checkPassphraseStrength('password12345', who)).toThrow(/common word "password"/);
    expect(() => checkPassphraseStrength('violet lantern orbit 42', who)).not.toThrow();
  });

  it('doubles from 1 s and caps at 15 minutes', () => {
    expect([1, 2, 3, 4].map(backoffAfter)).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffAfter(11)).toBe(MAX_BACKOFF_MS);
    expect(backoffAfter(1000)).toBe(MAX_BACKOFF_MS);
  });
});

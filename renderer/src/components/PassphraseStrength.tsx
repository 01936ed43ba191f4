import type { ReactElement } from 'react';

/** Mirrors the vault's floor (12 characters, 6 different ones); the vault still decides and says why. */
const MIN_LENGTH = 12;
const MIN_DISTINCT = 6;
const STRONG_LENGTH = 20;

/** A hint about a passphrase's strength; it describes the passphrase without repeating any of it. */
export function passphraseHint(passphrase: string): { readonly level: 'empty' | 'weak' | 'fair' | 'strong'; readonly text: string } {
  const chars = [...passphrase];
  if (chars.length === 0) return { level: 'empty', text: `At least ${MIN_LENGTH} characters; a few unrelated words work well.` };
  if (chars.length < MIN_LENGTH) return { level: 'weak', text: `Too short: ${chars.length} of at least ${MIN_LENGTH} characters.` };
  if (new Set(chars).size < MIN_DISTINCT)
    return { level: 'weak', text: `Too repetitive: use at least ${MIN_DISTINCT} different characters.` };
  if (chars.length < STRONG_LENGTH)
    return { level: 'fair', text: 'Acceptable. A longer passphrase (four or five unrelated words) is stronger.' };
  return { level: 'strong', text: 'Strong length. Avoid names, the organisation and common words.' };
}

/** The strength hint under a passphrase field, announced politely as it changes. */
export function PassphraseStrength({ passphrase }: { readonly passphrase: string }): ReactElement {
  const hint = passphraseHint(passphrase);
  return (
    <p className={`strength strength-${hint.level}`} aria-live="polite">
      <span className="strength-label">Strength: {hint.level === 'empty' ? '—' : hint.level}.</span> {hint.text}
    </p>
  );
}

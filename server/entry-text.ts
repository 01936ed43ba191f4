import { ENTRY_TYPES, UNSAFE_TEXT } from '../shared/journal/entry-types';
import { WireFailure } from './errors';

/** Where an unsafe character sits, as a person reads it: `U+0000 at index 3`. */
function describeUnsafe(text: string): string {
  const match = UNSAFE_TEXT.exec(text);
  const code = match?.[0].codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')} at index ${match?.index ?? 0}`;
}

/**
 * Refuses entries whose strings the server copies into its own columns (the actor; a
 * `custodian.enrolled` entry's custodian id and role) when they hold a control character or an
 * unpaired surrogate. PostgreSQL cannot store U+0000 in text at all, and a SQLite server would
 * store what PostgreSQL refuses, so both refuse here, before any storage is touched: 422
 * ENTRY_INVALID naming the entry and the field, on every adapter alike. The app never writes such
 * an entry (custodian ids are 32 hex, roles a fixed list); one that does is refused on every
 * resend, like any other entry the server cannot accept.
 */
export function refuseUnsafeEntryText(entries: readonly Readonly<Record<string, unknown>>[]): void {
  entries.forEach((entry, i) => {
    const fields: [string, unknown][] = [['actor', entry.actor]];
    const data = entry.data;
    if (entry.type === ENTRY_TYPES.custodianEnrolled && typeof data === 'object' && data !== null) {
      const d = data as Readonly<Record<string, unknown>>;
      fields.push(['data.custodian', d.custodian], ['data.role', d.role]);
    }
    for (const [field, value] of fields) {
      if (typeof value === 'string' && UNSAFE_TEXT.test(value)) {
        const seq = typeof entry.seq === 'number' ? entry.seq : null;
        throw new WireFailure(
          422,
          'ENTRY_INVALID',
          `entries[${i}]${seq === null ? '' : ` (seq ${seq})`}.${field} holds ${describeUnsafe(value)}: actors, custodian ids and roles must not contain control characters or unpaired surrogates`,
          { seq, field },
        );
      }
    }
  });
}

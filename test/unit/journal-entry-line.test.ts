import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import { isEntryRecord } from '../../shared/journal/bundle';
import { canonicalEntryTexts, type SignedEntry } from '../../shared/journal/entry';
import { isWellFormedEntry } from '../../shared/journal/entry-shape';
import {
  EntryLineReader,
  canonicalDataOf,
  lastOccurrence,
  provenCanonicalText,
  readCanonicalEntryLine,
} from '../../shared/journal/entry-line';
import { MAX_ENTRY_DEPTH, valueDepthExceeds } from '../../shared/journal/limits';

/**
 * The fast entry-line reader proves most `data` texts canonical without re-encoding them
 * (canonicalDataOf): these properties check that it accepts exactly the texts the general rule
 * accepts — JSON.parse, the depth limit, and canonicalize(parsed) equal to the text — and gives
 * the same value, over random JSON values written canonically, written in insertion order, and
 * mutated character by character.
 */

/** The general rule, as the reader applied it before the fast path. */
function slowVerdict(text: string): unknown {
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
    return valueDepthExceeds(data, MAX_ENTRY_DEPTH - 1) || canonicalize(data) !== text ? null : data;
  } catch {
    return null;
  }
}

// Member names and strings chosen to reach every rule: integer-like names (V8 lists them first,
// in numeric order), names that sort by UTF-16 code unit differently from code point, escapes,
// control characters, lone and paired surrogates, __proto__.
const names = fc.oneof(
  fc.constantFrom(
    '0',
    '1',
    '2',
    '9',
    '10',
    '01',
    '-1',
    '4294967294',
    '4294967295',
    'a',
    'b',
    'B',
    'é',
    '\u{1F600}',
    '\uFFFD',
    '__proto__',
    '',
  ),
  fc.constantFrom('\n', '\u0001', '"', '\\', ']', '\u007f', 'a\nb'),
  fc.string({ maxLength: 4 }),
);
const strings = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('\u0000', '\u001f', '"', '\\', '\n', '\u2028', '\ud800', '\udfff', '\ud83d\ude00', '\ude00\ud83d', 'é', '</script>'),
);
const numbers = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, -0, 1.5, -2.25, 1e21, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, -(2 ** 53 - 1), 1e-7),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    numbers,
    strings,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(names, tie('value'), { maxKeys: 5 }),
  ),
}));
const data = fc.dictionary(names, value, { maxKeys: 6 });

/** A value nested `depth` levels deep (the outer object is level 1), around the limit. */
const deep = fc.tuple(fc.integer({ min: MAX_ENTRY_DEPTH - 3, max: MAX_ENTRY_DEPTH + 2 }), fc.boolean()).map(([depth, arrays]) => {
  let inner: unknown = 1;
  for (let d = 1; d < depth; d++) inner = arrays && d % 2 === 0 ? [inner] : { k: inner };
  return { k: inner };
});

/** Writes a value in JSON.stringify's (insertion) order where canonicalize cannot (floats, lone surrogates). */
function texts(v: unknown): string[] {
  const out = [JSON.stringify(v)];
  try {
    out.push(canonicalize(v));
  } catch {
    // not canonicalisable: the insertion-order text is still a case
  }
  return out;
}

const mutation = fc.tuple(
  fc.nat(),
  fc.constantFrom(' ', '{', '}', '[', ']', '"', ',', ':', '0', '1', '-', '.', 'e', '\\', 'u', 'd', '8', 'a', 'A', '\ud800', '\u0000'),
  fc.constantFrom('insert', 'replace', 'delete', 'swap'),
);
function mutate(text: string, [at, char, how]: [number, string, string]): string {
  const i = text.length === 0 ? 0 : at % text.length;
  switch (how) {
    case 'insert':
      return text.slice(0, i) + char + text.slice(i);
    case 'replace':
      return text.slice(0, i) + char + text.slice(i + 1);
    case 'delete':
      return text.slice(0, i) + text.slice(i + 1);
    default:
      return i + 1 < text.length ? text.slice(0, i) + text[i + 1]! + text[i]! + text.slice(i + 2) : text;
  }
}

describe('canonicalDataOf (the reader of an entry line\u2019s data)', () => {
  it('accepts exactly the texts the general rule accepts, with the same value', () => {
    let fast = 0;
    let cases = 0;
    fc.assert(
      fc.property(fc.oneof(data, deep), fc.array(mutation, { maxLength: 3 }), (v, mutations) => {
        for (const text of texts(v)) {
          const variants = [text, mutations.reduce(mutate, text)];
          for (const t of variants) {
            const expected = slowVerdict(t);
            const got = canonicalDataOf(t);
            expect(got === null, t).toBe(expected === null);
            if (expected !== null) {
              expect(got).toStrictEqual(expected);
              cases += 1;
              if (provenCanonicalText(t)) fast += 1;
            }
          }
        }
      }),
      { numRuns: 3000 },
    );
    // The fast path is what decides most accepted texts (not a property that holds vacuously).
    expect(cases).toBeGreaterThan(1000);
    expect(fast / cases).toBeGreaterThan(0.5);
  });

  it('decides the cases each rule exists for, as canonicalize does', () => {
    const cases: [string, boolean][] = [
      ['{"a":1,"b":[true,null,"x"]}', true],
      ['{"b":1,"a":2}', false], // members out of order
      ['{"10":1,"9":2}', true], // sorted by code unit; V8 lists 9 first, so only canonicalize proves it
      ['{"9":2,"10":1}', false],
      ['{"a":1.5}', false], // floats are refused
      ['{"a":9007199254740992}', false], // 2^53: JSON.stringify writes it back unchanged, canonicalize refuses it
      ['{"a":9007199254740991}', true],
      ['{"a":-0}', false],
      ['{"a":1e3}', false],
      ['{"a":"\\ud800"}', false], // an escaped lone surrogate, written back the same by JSON.stringify
      ['{"\\udfff":1}', false],
      ['{"a":"\\ud83d\\ude00"}', false], // a pair written as escapes: canonical JSON writes the character
      ['{"a":"\ud83d\ude00"}', true],
      ['{"a":"\ud800"}', false], // a raw lone surrogate
      ['{"a":"\\\\ud800"}', true], // a backslash followed by "ud800": text, decided by canonicalize
      ['{"a":"\\u0041"}', false],
      ['{"a":"\\u001f"}', true],
      ['{"a":1,"a":1}', false],
      ['{"__proto__":{"a":1}}', true],
      [`${'{"k":'.repeat(MAX_ENTRY_DEPTH - 1)}1${'}'.repeat(MAX_ENTRY_DEPTH - 1)}`, true],
      [`${'{"k":'.repeat(MAX_ENTRY_DEPTH)}1${'}'.repeat(MAX_ENTRY_DEPTH)}`, false], // one level too deep
      ['{"a":"\\b\\t\\n\\f\\r\\"\\\\\\u0000\\u001f\u007f\u2028/"}', true],
      ['{"a":"\\u0008"}', false], // written \b
      ['{"a":"\\u000a"}', false], // written \n
      ['{"a":"\\u001F"}', false], // lowercase hex
      ['{"a":"\\u007f"}', false], // DEL is written as itself
      ['{"a":"\\/"}', false],
      ['{"\\n":1,"B":2}', true], // names sort by their value: a newline before B
      ['{"B":1,"\\n":2}', false], // although the escape's backslash sorts after B
      ['{"]":1,"\\n":2}', false],
      ['{"a":[1,2,{"b":null,"c":false}],"b":true}', true],
      ['{"a":[1,2,]}', false],
      ['[1]', false],
      ['{"a":1} ', false],
    ];
    for (const [text, ok] of cases) {
      expect(slowVerdict(text) !== null, text).toBe(ok);
      expect(canonicalDataOf(text) !== null, text).toBe(ok);
      // What the scan proves canonical is.
      if (provenCanonicalText(text)) expect(canonicalize(JSON.parse(text))).toBe(text);
    }
    // Texts JSON.parse refuses are never proven canonical by the scan either.
    for (const text of [
      '{"a":"\u0001"}',
      '{"a":1',
      '{"a":1}}',
      '{"a" :1}',
      '{"a":01}',
      '{"a":1.5}',
      '{"a":1e5}',
      '{"a":-}',
      '{"a":tru}',
      '',
    ]) {
      expect(provenCanonicalText(text), text).toBe(false);
    }
  });
});

/** The general rule for a whole line, as range-verify.ts applies it when the fast reader declines. */
function slowLine(text: string): { entry: SignedEntry; body: string } | null {
  try {
    const json = JSON.parse(text) as unknown;
    if (!isEntryRecord(json) || !isWellFormedEntry(json.entry) || valueDepthExceeds(json.entry, MAX_ENTRY_DEPTH)) return null;
    const texts = canonicalEntryTexts(json.entry);
    return texts.line === text ? { entry: json.entry, body: texts.body } : null;
  } catch {
    return null;
  }
}

const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const DEVICE = 'ab'.repeat(32);
const VAULT = 'cd'.repeat(16);
const HASH = 'ef'.repeat(32);
/** Mostly well-formed values, sometimes one that is not: most generated lines are valid, and every rule is reached. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 30 }, { arbitrary: bad, weight: 1 });
const hex64 = mostly(
  fc.oneof(fc.constant(DEVICE), fc.constant(HASH), hex(64)),
  fc.constantFrom('AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(31)}g0`),
);
const counters = mostly(fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 53 - 1)), fc.constantFrom(2 ** 53, -1, 1.5, 10 ** 16));
const entries = fc.record({
  actor: mostly(
    fc.oneof(fc.constant(null), fc.constantFrom('alice', 'x'.repeat(256)), fc.string({ minLength: 1, maxLength: 4 })),
    fc.constantFrom('', '\ud800', 'x'.repeat(257)),
  ),
  data: mostly(data, deep),
  device: hex64,
  hash: hex64,
  prev: hex64,
  seq: counters,
  sigs: mostly(
    fc.array(fc.record({ key: hex64, sig: mostly(hex(128), fc.constantFrom('A'.repeat(128), 'a'.repeat(126))) }), {
      minLength: 1,
      maxLength: 3,
    }),
    fc.array(fc.record({ key: hex64, sig: hex(128) }), { minLength: 0, maxLength: 17 }),
  ),
  time: counters,
  type: mostly(
    fc.constantFrom('checkpoint', 'vault.genesis', 'a.b-c.d9', 'x'.repeat(128)),
    fc.constantFrom('A', 'a..b', 'a.', '', 'x'.repeat(129), '1a'),
  ),
  v: mostly(fc.constant(1), fc.constant(2)),
  vault: mostly(fc.oneof(fc.constant(VAULT), hex(32)), fc.constant('CD'.repeat(16))),
});

describe('lastOccurrence (lastIndexOf, searched forward)', () => {
  it('finds the last occurrence, however many there are, overlapping or none', () => {
    for (const [text, needle] of [
      ['{"entry":{"data":{"x":1},"device":"a"}', ',"device":"'],
      ['{"data":{"y":{"device":"b"},"z":2},"device":"c","device":"d"}', '"device":"'],
      ['aaaa', 'aa'],
      ['', 'x'],
      ['abc', 'abcd'],
    ] as const)
      expect(lastOccurrence(text, needle)).toBe(text.lastIndexOf(needle));
    const piece = fc.constantFrom(',"receipt":{"device":"', ',"device":"', 'a', '"', ',', '{');
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 40 }),
        fc.constantFrom(',"receipt":{"device":"', ',"device":"', '"a', 'a'),
        (parts, needle) => {
          const text = parts.join('');
          expect(lastOccurrence(text, needle)).toBe(text.lastIndexOf(needle));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('the entry-line reader', () => {
  it('takes only lines the general rule takes, and gives what it gives; most canonical lines it takes itself', () => {
    let taken = 0;
    let valid = 0;
    fc.assert(
      fc.property(entries, fc.array(mutation, { maxLength: 2 }), fc.boolean(), (entry, mutations, repeat) => {
        let line: string;
        try {
          line = canonicalize({ entry, kind: 'entry' });
        } catch {
          line = JSON.stringify({ entry, kind: 'entry' });
        }
        // A reader that knows the device, vault and key this journal uses, and one that knows other ones.
        const known = repeat
          ? { device: DEVICE, vault: VAULT, deviceKey: DEVICE }
          : { device: HASH, vault: 'ef'.repeat(16), deviceKey: HASH };
        const reader = new EntryLineReader(known);
        reader.read(
          `{"entry":{"actor":null,"data":{},"device":"${DEVICE}","hash":"${HASH}","prev":"${HASH}","seq":1,"sigs":[{"key":"${DEVICE}","sig":"${'0'.repeat(128)}"}],"time":1,"type":"a","v":1,"vault":"${VAULT}"},"kind":"entry"}`,
        );
        for (const text of [line, mutations.reduce(mutate, line)]) {
          const expected = slowLine(text);
          if (expected !== null) valid += 1;
          for (const got of [readCanonicalEntryLine(text), reader.read(text)]) {
            if (got === null) continue;
            expect(expected, text).not.toBeNull();
            expect(got.entry).toStrictEqual(expected!.entry);
            expect(Object.keys(got.entry)).toEqual(Object.keys(expected!.entry));
            expect(got.body).toBe(expected!.body);
            taken += 1;
          }
        }
      }),
      { numRuns: 3000 },
    );
    expect(valid).toBeGreaterThan(100);
    expect(taken).toBeGreaterThan(valid);
  });
});

describe('the entry-line reader, with what it knows', () => {
  const line = `{"entry":{"actor":null,"data":{"n":1},"device":"${DEVICE}","hash":"${HASH}","prev":"${HASH}","seq":1,"sigs":[{"key":"${DEVICE}","sig":"${'0'.repeat(128)}"}],"time":1,"type":"a","v":1,"vault":"${VAULT}"},"kind":"entry"}`;
  it('takes a line that repeats the device, key and vault it knows, and nothing past or around them', () => {
    const reader = () => new EntryLineReader({ device: DEVICE, vault: VAULT, deviceKey: DEVICE });
    expect(reader().read(line)).toStrictEqual(slowLine(line));
    for (const odd of [
      `${line} `,
      `${line}}`,
      `${line}\n`,
      line.replace(`"vault":"${VAULT}"`, `"vault":"${VAULT}" `),
      line.replace(',"v":1,', ',"v":2,'),
    ]) {
      expect(reader().read(odd), odd).toBeNull();
      expect(readCanonicalEntryLine(odd), odd).toBeNull();
    }
  });
  it('checks what it is given to know, and ignores values that are not lowercase hex', () => {
    const upper = (member: string, value: string) => line.replace(`"${member}":"${value}"`, `"${member}":"${value.toUpperCase()}"`);
    const reader = new EntryLineReader({ device: DEVICE.toUpperCase(), vault: VAULT.toUpperCase(), deviceKey: DEVICE.toUpperCase() });
    for (const odd of [upper('device', DEVICE), upper('vault', VAULT), upper('key', DEVICE)]) {
      expect(odd).not.toBe(line);
      expect(reader.read(odd), odd).toBeNull();
    }
    expect(reader.read(line)).toStrictEqual(slowLine(line));
  });
});

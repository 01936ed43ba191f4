/**
 * Limits of the journal format (docs/journal-format.md, sections 2.2 and 10.2): the one place
 * they are defined. The TypeScript verifiers, the writers and the Python reference verifier
 * (test/fixtures/journal-vectors/verify_vectors.py, which repeats the numbers) follow them.
 */

/**
 * Deepest nesting an entry may have: the entry object itself is depth 1, its `data` and `sigs`
 * depth 2, and each object or array inside adds one. The deepest entry the app writes is a
 * two-person entry's `data.approval.change` (depth 4) with one level of values inside it (5);
 * 16 leaves room for new entry types without letting a hostile line nest thousands deep.
 */
export const MAX_ENTRY_DEPTH = 16;

/**
 * A bundle line wraps its entry in one more object (`{"entry":{…},"kind":"entry"}`), and the
 * deepest other record (a receipt with its tree head) is shallower than that: a line nested
 * deeper than this is refused before it is parsed.
 */
export const MAX_LINE_DEPTH = MAX_ENTRY_DEPTH + 1;

/**
 * Anchored verification (section 10.2) holds back the device-signature checks of the entries
 * since the last checkpoint until the next checkpoint decides them. A range that grows to this
 * many entries without a checkpoint is verified in full from there on, so the held-back work
 * stays bounded whatever spacing a genesis declares (the product's is 256).
 */
export const MAX_ANCHORED_RANGE = 4096;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether a JSON text nests objects and arrays deeper than `max`, read in one pass without
 * recursion or parsing (brackets inside strings do not count). For a text that is not JSON the
 * answer only concerns its brackets; the parser that runs afterwards refuses the rest.
 */
export function textDepthExceeds(text: string, max: number): boolean {
  // A text with no more opening brackets than `max` cannot nest deeper: counted with indexOf
  // (native), which settles every ordinary line without walking it character by character.
  let opens = 0;
  for (let at = text.indexOf('{'); at !== -1 && opens <= max; at = text.indexOf('{', at + 1)) opens += 1;
  for (let at = text.indexOf('['); at !== -1 && opens <= max; at = text.indexOf('[', at + 1)) opens += 1;
  if (opens <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth -= 1;
  }
  return false;
}

/** An object's or array's members (module level: the server runs under tsx, whose names for closures made per call cost a property definition each). */
function children(v: object): readonly unknown[] {
  return Array.isArray(v) ? v : Object.values(v);
}

/**
 * Whether a parsed value nests objects and arrays deeper than `max` (a scalar is depth 0, `{}`
 * depth 1), walked with an explicit stack: a value parsed from a hostile text cannot overflow
 * the call stack here, and the walk stops at the first level past `max`.
 */
export function valueDepthExceeds(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: { readonly items: readonly unknown[]; index: number }[] = [];
  if (max < 1) return true;
  stack.push({ items: children(value), index: 0 });
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.index >= top.items.length) {
      stack.pop();
      continue;
    }
    const child = top.items[top.index++];
    if (typeof child === 'object' && child !== null) {
      if (stack.length + 1 > max) return true;
      stack.push({ items: children(child), index: 0 });
    }
  }
  return false;
}

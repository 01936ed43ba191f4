import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import { entryBodyOf, signEntry, type SignedEntry } from '../../shared/journal/entry';
import type { ChainState } from '../../shared/journal/verifier';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { ExportJoin } from '../../shared/sync/export-join';
import { ExportRangeVerifier } from '../../shared/sync/export-range';
import { ServerExportVerifier, type ServerExportReport } from '../../shared/sync/server-export';
import { nativePrimitives } from '../../server/native-primitives';
import { TEST_VAULT, TestJournal, seededSigner } from '../support/journal-builder';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import { exportLinesOf } from '../support/server-export-fixture';
import { appendEntries } from '../support/sync-fixture';

let sodium: Sodium;
let server: { publicKey: Uint8Array; privateKey: Uint8Array };
let serverKey: string;
/** Each device's whole journal: built once (real SQLite), interleaved differently by each case. */
let journals: SignedEntry[][];
const open: TestJournal[] = [];

beforeAll(async () => {
  sodium = await sodiumReady();
  server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(0x79));
  serverKey = sodium.to_hex(server.publicKey);
  // One device changes its key tables midway (two founding custodians, then a third by two-person
  // approval, then custodian-signed entries): ranges sent before that joins start from stale tables.
  const a = new TestJournal({ deviceSeed: 71 });
  appendEntries(a, 12);
  a.enrol('alice', 81, { role: 'admin' });
  a.enrol('bob', 82, { role: 'mfa-custodian' });
  appendEntries(a, 9);
  a.enrol('carol', 83);
  for (let i = 0; i < 6; i++) {
    a.tick();
    a.store.append({ type: 'test.signed', actor: { id: 'alice', signer: a.custodians.get('alice')! }, data: { i } });
  }
  appendEntries(a, 7);
  const b = new TestJournal({ deviceSeed: 72 });
  appendEntries(b, 41);
  const c = new TestJournal({ deviceSeed: 73, checkpointEvery: 5 });
  appendEntries(c, 23);
  // Ends on a checkpoint, so the device itself can re-sign that one without breaking a link after it.
  c.store.checkpointTail();
  open.push(a, b, c);
  journals = open.map((j) => [...j.store.read()]);
});
afterAll(() => {
  for (const j of open.splice(0)) j.close();
});

/** The devices' entries taking turns in batches of `batch`, as uploads land in the log. */
function interleave(batch: number): SignedEntry[] {
  const out: SignedEntry[] = [];
  const total = journals.reduce((s, e) => s + e.length, 0);
  for (let at = 0; out.length < total; at += batch) for (const e of journals) out.push(...e.slice(at, at + batch));
  return out;
}

const oneThread = (lines: readonly string[]): ServerExportReport => {
  const v = new ServerExportVerifier(serverKey, nativePrimitives);
  for (const line of lines) v.pushLine(line);
  return v.finish();
};

/**
 * The reading thread's loop of electron/sync/export-parallel.ts, in process: the lines after the
 * header cut into ranges of the given sizes, range k verified from the device states known after
 * range k - 1 - lag joined (ranges in flight start from stale states), joined in order, a range
 * whose assumptions fail verified again from the exact states. Null: the file goes to one thread.
 */
function byRanges(lines: readonly string[], sizes: readonly number[], lag: number | ((k: number) => number)): ServerExportReport | null {
  const lagOf = typeof lag === 'number' ? () => lag : lag;
  const header = new ServerExportVerifier(serverKey, nativePrimitives);
  header.pushLine(lines[0]!);
  const trusted = header.trustedHead();
  if (trusted === null) return null;
  const join = new ExportJoin(serverKey, trusted.head, nativePrimitives.sha256);
  const statesAfter: Record<string, ChainState>[] = [join.states()];
  const run = (text: string, states: Record<string, ChainState>, exact: boolean) =>
    new ExportRangeVerifier({ ...trusted, states, exact }, nativePrimitives).verify(text);
  let at = 1;
  for (let k = 0; at < lines.length; k++) {
    const size = sizes[k % sizes.length]!;
    const text = lines.slice(at, at + size).join('\n');
    at += size;
    const first = run(text, statesAfter[Math.max(0, statesAfter.length - 1 - lagOf(k))]!, false);
    let joined = typeof first === 'object' ? join.join(first) : 'retry';
    if (joined === 'retry') {
      const again = run(text, join.states(), true);
      joined = typeof again === 'object' ? join.join(again) : 'fault';
    }
    if (joined !== 'joined') return null;
    statesAfter.push(join.states());
  }
  if (!join.pendingSignatures().every((p) => nativePrimitives.verifyEntrySignature(p.hash, p.sig))) return null;
  return join.finish();
}

type Row = { entry: Record<string, unknown>; receipt: { inclusionProof: string[]; logIndex: number } };
const flip = (hex: string, at: number): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
const bend = (lines: readonly string[], i: number, change: (row: Row) => void): string[] =>
  lines.map((l, at) => {
    if (at !== i) return l;
    const row = JSON.parse(l) as Row;
    change(row);
    return canonicalize(row);
  });

/** The entry after `tip` in its chain, signed by `signers` (the device first): what an insider holding those keys can write. */
const signedAfter = (
  tip: SignedEntry,
  body: { time: number; type: string; actor: string | null },
  signers: Parameters<typeof signEntry>[1],
): SignedEntry => signEntry({ v: 1, vault: tip.vault, device: tip.device, seq: tip.seq + 1, prev: tip.hash, data: {}, ...body }, signers);

/** Ways to tamper with an export, each at a line picked by `n`. */
const TAMPERS: Record<string, (lines: readonly string[], n: number, m: number) => string[]> = {
  'an audit path hash bent': (lines, n, m) =>
    bend(lines, 1 + (n % (lines.length - 1)), (r) => {
      const p = r.receipt.inclusionProof;
      if (p.length > 0) p[m % p.length] = flip(p[m % p.length]!, m % 64);
    }),
  'a device signature bent': (lines, n, m) =>
    bend(lines, 1 + (n % (lines.length - 1)), (r) => {
      const sig = (r.entry.sigs as { sig: string }[])[0]!;
      sig.sig = flip(sig.sig, m % 128);
    }),
  'an entry changed': (lines, n) => bend(lines, 1 + (n % (lines.length - 1)), (r) => void (r.entry.time = (r.entry.time as number) + 1)),
  'two lines swapped': (lines, n) => {
    const i = 1 + (n % (lines.length - 2));
    const out = [...lines];
    [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
    return out;
  },
  'a line dropped': (lines, n) => lines.filter((_l, at) => at !== 1 + (n % (lines.length - 1))),
  'a line repeated': (lines, n) => {
    const i = 1 + (n % (lines.length - 1));
    return [...lines.slice(0, i + 1), ...lines.slice(i)];
  },
  'a line re-encoded': (lines, n) => lines.map((l, at) => (at === 1 + (n % (lines.length - 1)) ? l.replace('{"entry":', '{ "entry":') : l)),
  'an empty line': (lines, n) => {
    const i = 1 + (n % (lines.length - 1));
    return [...lines.slice(0, i), '', ...lines.slice(i)];
  },
};

describe('org export verified by ranges (export-range.ts + export-join.ts)', () => {
  it('gives exactly the one-thread report for a clean export, however it is cut and however stale the states ranges start from', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 4 }),
        (batch, sizes, lag) => {
          const lines = exportLinesOf(interleave(batch), server, sodium);
          const one = oneThread(lines);
          expect(one.ok).toBe(true);
          expect(byRanges(lines, sizes, lag)).toEqual(one);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never reports an export the one-thread verifier fails, and agrees on every one it passes', () => {
    const names = Object.keys(TAMPERS);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(names.length - 1),
        fc.nat(),
        fc.nat(),
        (batch, sizes, lag, which, n, m) => {
          const lines = TAMPERS[names[which]!]!(exportLinesOf(interleave(batch), server, sodium), n, m);
          const one = oneThread(lines);
          const ranges = byRanges(lines, sizes, lag);
          if (one.ok) expect(ranges).toEqual(one);
          else expect(ranges, names[which]).toBeNull();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is attested by checkpoints as one thread is: a bent device signature under a checkpoint still verifies, one after the last does not', () => {
    const log = interleave(4);
    const lines = exportLinesOf(log, server, sodium);
    const device = log[0]!.device;
    const last = log.findLastIndex((e) => e.device === device);
    const covered = log.findIndex((e) => e.device === device && e.seq === 3);
    const sizes = [5, 9];
    const bentCovered = bend(lines, covered + 1, (r) => void ((r.entry.sigs as { sig: string }[])[0]!.sig = 'ab'.repeat(64)));
    expect(oneThread(bentCovered).ok).toBe(true);
    expect(byRanges(bentCovered, sizes, 2)).toEqual(oneThread(bentCovered));
    const bentTail = bend(lines, last + 1, (r) => void ((r.entry.sigs as { sig: string }[])[0]!.sig = 'ab'.repeat(64)));
    expect(oneThread(bentTail).ok).toBe(false);
    expect(byRanges(bentTail, sizes, 2)).toBeNull();
    expect(byRanges(bentTail, [1000], 0)).toBeNull();
  });

  it("holds each checkpoint's root to the device's leaves before the range: a checkpoint the device re-signed over a wrong root fails", () => {
    const log = interleave(4);
    const device = journals[2]!.at(-1)!;
    expect(device.type).toBe('checkpoint');
    const forged = signEntry({ ...entryBodyOf(device), data: { ...device.data, root: flip(device.data.root as string, 7) } }, [
      seededSigner(73),
    ]);
    const lines = exportLinesOf(
      log.map((e) => (e.hash === device.hash ? forged : e)),
      server,
      sodium,
    );
    expect(oneThread(lines).failures.map((f) => f.code)).toEqual(['CHECKPOINT_ROOT_MISMATCH']);
    for (const sizes of [[1], [3, 8], [2000]]) expect(byRanges(lines, sizes, 1), `${sizes}`).toBeNull();
  });

  it('joins a range only on the key tables it started from: an entry signed with a key revoked before it fails however stale the range was', () => {
    // Device a: carol revoked, then an entry she signs (an insider holding her key): REVOKED_KEY,
    // which a range that started from the tables before the revocation would not see.
    const j = new TestJournal({ deviceSeed: 74 });
    try {
      appendEntries(j, 3);
      j.enrol('alice', 84, { role: 'admin' });
      j.enrol('bob', 85, { role: 'mfa-custodian' });
      j.enrol('carol', 86);
      appendEntries(j, 2);
      j.revoke('carol');
      appendEntries(j, 2);
      const tip = [...j.store.read()].at(-1)!;
      const late = signedAfter(tip, { time: tip.time + 1_000, type: 'test.signed', actor: 'carol' }, [
        j.device,
        j.custodians.get('carol')!,
      ]);
      const entries = [...j.store.read(), late];
      const lines = exportLinesOf(entries, server, sodium);
      expect(oneThread(lines).failures.map((f) => f.code)).toEqual(['REVOKED_KEY']);
      // Ranges of one line, each sent once the one before it joined, but the last sent when only
      // the lines before the revocation had: it starts from tables where carol's key is live.
      const revokedAt = entries.findIndex((e) => e.type === 'custodian.revoked');
      const last = entries.length - 1;
      expect(byRanges(lines, [1], (k) => (k === last ? last - revokedAt : 0))).toBeNull();
      expect(byRanges(lines, [1], entries.length)).toBeNull();
      expect(byRanges(lines, [2, 5], 3)).toBeNull();
    } finally {
      j.close();
    }
  });

  it('holds each range to the audit path hashes it names for nodes outside it', () => {
    const lines = exportLinesOf(interleave(3), server, sodium);
    const size = lines.length - 1;
    expect(size & (size - 1)).not.toBe(0);
    // Leaf 0's first hash is leaf 1 (settled when a later range completes it); its last, the
    // node over the leaves after the largest power of two, cut short by the size (settled at the end);
    // leaf 1's first, leaf 0 (on the tree's edge when leaf 1's range joins).
    for (const [line, pick] of [
      [1, 0],
      [1, -1],
      [2, 0],
    ] as const) {
      const bent = bend(lines, line, (r) => {
        const p = r.receipt.inclusionProof;
        const at = pick < 0 ? p.length + pick : pick;
        p[at] = flip(p[at]!, 5);
      });
      expect(oneThread(bent).ok).toBe(false);
      expect(byRanges(bent, [1], 0), `line ${line}, hash ${pick}`).toBeNull();
      expect(byRanges(bent, [1000], 0)).toBeNull();
    }
    // Every leaf under the first largest power of two names the same wrong hash for the node cut
    // short by the size: no two claims disagree, only the whole tree settles it.
    const last = (JSON.parse(lines[1]!) as Row).receipt.inclusionProof.at(-1)!;
    const allBent = lines.map((l, at) => (at > 0 && l.includes(`"${last}"]`) ? l.replace(`"${last}"]`, `"${flip(last, 9)}"]`) : l));
    expect(allBent.filter((l, at) => l !== lines[at]).length).toBeGreaterThan(1);
    expect(oneThread(allBent).failures.map((f) => f.code)).toEqual(['BAD_RECEIPT']);
    expect(byRanges(allBent, [1], 0)).toBeNull();
    expect(byRanges(allBent, [5, 11], 2)).toBeNull();
  });

  it('holds the joined tree to the signed root, even when every path agrees with the tree (a head the server signed over another root)', () => {
    const lines = exportLinesOf(interleave(3), server, sodium);
    const head = (JSON.parse(lines[0]!) as { treeHead: { root: string; signature: string; size: number; timestamp: number } }).treeHead;
    const unsigned = { size: head.size, root: flip(head.root, 3), timestamp: head.timestamp };
    const signature = sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(unsigned, sodium), server.privateKey));
    const resigned = lines.map((l) =>
      l.replace(`"root":"${head.root}","signature":"${head.signature}"`, `"root":"${unsigned.root}","signature":"${signature}"`),
    );
    expect(oneThread(resigned).failures.map((f) => f.code)).toEqual(['LOG_ROOT_MISMATCH']);
    expect(byRanges(resigned, [7], 1)).toBeNull();
  });

  describe('a device chain that fails only across a range boundary', () => {
    /** A chain the device signs entry by entry (no checkpoints unless asked): what an insider with the device key can write. */
    function signedChain(seed: number, steps: readonly { type: string; dt: number }[], checkpointEvery: number): SignedEntry[] {
      const signer = seededSigner(seed);
      let time = 1_700_000_000_000;
      const out = [
        signEntry(
          {
            v: 1,
            vault: TEST_VAULT,
            device: signer.publicKey,
            seq: 0,
            prev: '0'.repeat(64),
            time,
            type: 'vault.genesis',
            actor: null,
            data: { checkpointEvery, deviceKey: signer.publicKey, heartbeatMs: 60_000, name: 'signed' },
          },
          [signer],
        ),
      ];
      for (const step of steps) {
        time += step.dt;
        out.push(signedAfter(out.at(-1)!, { time, type: step.type, actor: null }, [signer]));
      }
      return out;
    }
    const event = (dt = 1_000) => ({ type: 'test.event', dt });
    const cases: [string, string, SignedEntry[]][] = [
      ['time going backwards', 'TIME_BACKWARDS', signedChain(91, [event(), event(), event(-500), event()], 1_000)],
      [
        'a silence longer than the heartbeat allows inside a session',
        'MISSING_CHECKPOINT',
        signedChain(92, [{ type: 'session.started', dt: 1_000 }, event(), event(200_000), event()], 1_000),
      ],
      ['more entries in a row than checkpointEvery allows', 'MISSING_CHECKPOINT', signedChain(93, [event(), event(), event(), event()], 3)],
    ];
    for (const [what, code, chain] of cases)
      it(`${what}: one line per range, each sent before the one before it joined`, () => {
        const lines = exportLinesOf(chain, server, sodium);
        expect(oneThread(lines).failures.map((f) => f.code)).toEqual([code]);
        expect(byRanges(lines, [1], 1)).toBeNull();
        expect(byRanges(lines, [2], 1)).toBeNull();
      });
  });
});

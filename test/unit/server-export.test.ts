import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import { signEntry, type SignedEntry } from '../../shared/journal/entry';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { ServerExportVerifier, exportFormatOf, type ServerExportReport } from '../../shared/sync/server-export';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { exportLinesOf } from '../support/server-export-fixture';
import { appendEntries, foundingEnrolment } from '../support/sync-fixture';

let sodium: Sodium;
let server: { publicKey: Uint8Array; privateKey: Uint8Array };
let serverKey: string;
beforeAll(async () => {
  sodium = await sodiumReady();
  server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(0x77));
  serverKey = sodium.to_hex(server.publicKey);
});

const journals: TestJournal[] = [];
afterEach(() => {
  for (const j of journals.splice(0)) j.close();
});

/** Two real journals, their entries interleaved the way two devices' uploads land in the log. */
function interleaved(): SignedEntry[] {
  const a = new TestJournal({ deviceSeed: 51 });
  const b = new TestJournal({ deviceSeed: 52 });
  journals.push(a, b);
  appendEntries(a, 4);
  appendEntries(b, 3);
  const ea = [...a.store.read()];
  const eb = [...b.store.read()];
  return [...ea.slice(0, 3), ...eb, ...ea.slice(3)];
}

/** The export a server with the test key would produce for this log. */
const exportOf = (log: readonly SignedEntry[]): string[] => exportLinesOf(log, server, sodium);

const verify = (lines: readonly string[], key = serverKey, full = false): ServerExportReport => {
  const v = new ServerExportVerifier(key, undefined, { full });
  for (const line of lines) v.pushLine(line);
  return v.finish();
};
const codes = (r: ServerExportReport): string[] => r.failures.map((f) => f.code);

describe('server export verifier', () => {
  it('accepts a well-formed export and reports each device with its head', () => {
    const log = interleaved();
    const report = verify(exportOf(log));
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(log.length);
    expect(report.devices.map((d) => [d.device, d.entries, d.head?.seq, d.ok])).toEqual([
      [
        log[0]!.device,
        log.filter((e) => e.device === log[0]!.device).length,
        log.filter((e) => e.device === log[0]!.device).at(-1)!.seq,
        true,
      ],
      [log[3]!.device, 3 + 1, 3, true],
    ]);
    expect(exportFormatOf(exportOf(log)[0]!)).toBe('halfkey-server-export');
    expect(exportFormatOf('not json')).toBeNull();
  });

  it('catches a log the server signed although a device chain in it does not start at genesis', () => {
    const log = interleaved();
    const second = log[3]!.device;
    const withoutGenesis = log.filter((e) => !(e.device === second && e.seq === 0));
    const report = verify(exportOf(withoutGenesis));
    expect(report.ok).toBe(false);
    expect(report.failures[0]).toMatchObject({ device: second, seq: 1, code: 'BAD_GENESIS' });
    expect(report.devices.find((d) => d.device === second)?.ok).toBe(false);
  });

  it('refuses a repeated line, an extra line past the signed size, a line that is not JSON and a bent inclusion proof', () => {
    const lines = exportOf(interleaved());
    const repeated = verify([...lines.slice(0, 3), lines[2]!, ...lines.slice(3)]);
    expect(codes(repeated).slice(0, 2)).toEqual(['LOG_INDEX_MISMATCH', 'DUPLICATE_ENTRY']);
    expect(repeated.failures.at(-1)?.reason).toMatch(/more than the \d+ the signed tree head covers/);

    const garbage = verify([...lines.slice(0, 2), '{"kind":"entry",', ...lines.slice(3)]);
    expect(garbage.failures[0]).toMatchObject({ line: 3, code: 'BAD_BUNDLE', reason: 'line 3 is not JSON' });
    expect(garbage.ok).toBe(false);
    // The line still takes its place in the log: the count is right, the root cannot be rebuilt.
    expect(garbage.failures.at(-1)).toMatchObject({
      code: 'LOG_ROOT_MISMATCH',
      reason: '1 line(s) carry no entry hash, so the signed root cannot be rebuilt',
    });
    expect(codes(garbage)).not.toContain('TRUNCATED_TAIL');

    const row = JSON.parse(lines[4]!) as { entry: unknown; receipt: { inclusionProof: string[] } };
    row.receipt.inclusionProof[0] = row.receipt.inclusionProof[0]!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const bent = verify([...lines.slice(0, 4), canonicalize(row), ...lines.slice(5)]);
    expect(bent.failures).toHaveLength(1);
    expect(bent.failures[0]).toMatchObject({ line: 5, code: 'BAD_RECEIPT' });
    expect(bent.failures[0]!.reason).toMatch(/inclusion proof of entry [0-9a-f]{8}…#\d+ does not lead to the signed root/);
  });

  it('refuses a header line that is not canonical JSON', () => {
    const lines = exportOf(interleaved());
    expect(verify(lines).failures).toEqual([]);
    const spaced = verify([lines[0]!.replace('"kind":"header"', '"kind": "header"'), ...lines.slice(1)]);
    expect(spaced.failures).toEqual([
      {
        line: null,
        vault: null,
        device: null,
        seq: null,
        code: 'BAD_BUNDLE',
        reason: expect.stringMatching(/^line 1 is not canonical JSON: whitespace \(canonical JSON has none\) at character \d+$/),
      },
    ]);
  });

  it('refuses an entry line that is not canonical JSON and skips it, keeping the log order checks in step', () => {
    const log = interleaved();
    const lines = exportOf(log);
    expect(verify(lines).failures).toEqual([]);
    // Lines 2-4 are the first device's seq 0-2. The re-encoded line is reported and skipped, as in
    // a bundle, so that device's next entry follows a gap; the log index and root checks are unaffected.
    const first = log[0]!.device;
    const changed = lines[2]!.replace('"seq":1,"sigs"', '"seq":1.0,"sigs"');
    expect(JSON.parse(changed)).toEqual(JSON.parse(lines[2]!));
    const reencoded = verify([...lines.slice(0, 2), changed, ...lines.slice(3)]);
    expect(reencoded.failures.slice(0, 2).map((f) => [f.line, f.device, f.seq, f.code])).toEqual([
      [3, first, 1, 'MALFORMED_ENTRY'],
      [4, first, 2, 'SEQUENCE_GAP'],
    ]);
    expect(reencoded.failures[0]!.reason).toMatch(
      /^line 3 is not canonical JSON: the number 1\.0 is not an integer \(floating-point numbers are not allowed\) at character \d+$/,
    );
    expect(codes(reencoded).filter((c) => c.startsWith('LOG_') || c === 'BAD_RECEIPT' || c === 'TRUNCATED_TAIL')).toEqual([]);
    expect(reencoded.devices.find((d) => d.device === first)).toMatchObject({
      ok: false,
      failures: [expect.objectContaining({ seq: 1, code: 'MALFORMED_ENTRY' }), expect.objectContaining({ seq: 2, code: 'SEQUENCE_GAP' })],
    });
    expect(reencoded.devices.find((d) => d.device !== first)?.ok).toBe(true);
  });

  it('refuses an empty line, which takes no place in the log', () => {
    const lines = exportOf(interleaved());
    const blank = verify([...lines.slice(0, 2), '', ...lines.slice(2)]);
    expect(blank.failures).toEqual([expect.objectContaining({ line: 3, code: 'BAD_BUNDLE', reason: 'line 3 is empty' })]);
  });

  it('refuses an empty file, an unknown header version and a header without the pinned key', () => {
    expect(verify([]).failures).toEqual([expect.objectContaining({ code: 'BAD_BUNDLE', reason: 'the file is empty: no header line' })]);
    const lines = exportOf(interleaved());
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    const v2 = verify([canonicalize({ ...header, version: 2 }), ...lines.slice(1)]);
    expect(v2.ok).toBe(false);
    expect(v2.failures[0]).toMatchObject({ line: null, code: 'BAD_BUNDLE' });
    expect(v2.failures[0]!.reason).toMatch(/not a halfkey-server-export v1 header \(version:/);
    const other = sodium.to_hex(sodium.crypto_sign_keypair().publicKey);
    expect(codes(verify(lines, other))).toEqual(['SERVER_KEY_MISMATCH', 'BAD_TREE_HEAD']);
  });
});

describe('server export verifier, anchored on checkpoints and in full', () => {
  /** Two devices' journals, each ending on a checkpoint and then a few more entries, interleaved. */
  function anchoredLog(): { log: SignedEntry[]; checkpoints: Map<string, number> } {
    const a = new TestJournal({ deviceSeed: 53 });
    const b = new TestJournal({ deviceSeed: 54 });
    journals.push(a, b);
    appendEntries(a, 20);
    a.store.checkpointTail();
    appendEntries(a, 3);
    appendEntries(b, 10);
    b.store.checkpointTail();
    const [ea, eb] = [[...a.store.read()], [...b.store.read()]];
    const checkpoints = new Map([ea, eb].map((es) => [es[0]!.device, es.filter((e) => e.type === 'checkpoint').at(-1)!.seq] as const));
    return { log: [...ea.slice(0, 12), ...eb, ...ea.slice(12)], checkpoints };
  }
  const badDeviceSig = (e: SignedEntry): SignedEntry => ({
    ...e,
    sigs: [{ key: e.sigs[0]!.key, sig: sodium.to_hex(sodium.crypto_sign_keypair().privateKey) }, ...e.sigs.slice(1)],
  });
  const both = (lines: readonly string[]): [ServerExportReport, ServerExportReport] => [verify(lines), verify(lines, serverKey, true)];
  const located = (r: ServerExportReport) => r.failures.map((f) => [f.code, f.line, f.seq]);

  it('differs from a full check only on a corrupted device signature inside a checkpointed range', () => {
    const { log, checkpoints } = anchoredLog();
    const at = log.findIndex((e) => e.seq > 3 && e.seq < checkpoints.get(e.device)! - 1);
    const lines = exportOf(log.map((e, i) => (i === at ? badDeviceSig(e) : e)));
    const [anchored, full] = both(lines);
    expect(anchored.ok).toBe(true);
    expect(full.ok).toBe(false);
    expect(located(full)).toEqual([['BAD_SIGNATURE', at + 2, log[at]!.seq]]);
  });

  it('agrees with a full check on every other tampering, naming the same first failure', () => {
    const { log, checkpoints } = anchoredLog();
    const device = log[0]!.device;
    const cp = log.findIndex((e) => e.device === device && e.seq === checkpoints.get(device));
    const tail = log.length - 1;
    const inside = 5;
    const cases: [string, string[]][] = [
      ['a corrupted device signature after the last checkpoint', exportOf(log.map((e, i) => (i === tail ? badDeviceSig(e) : e)))],
      ['a corrupted checkpoint signature', exportOf(log.map((e, i) => (i === cp ? badDeviceSig(e) : e)))],
      [
        'a changed entry under a checkpoint (hash left as it was)',
        exportOf(log.map((e, i) => (i === inside ? { ...e, data: { n: 'changed' } } : e))),
      ],
      [
        'a changed entry re-hashed, its signature kept, before a checkpoint',
        exportOf(log.map((e, i) => (i === inside ? { ...signEntry({ ...e, data: { n: 'changed' } }, [], sodium), sigs: e.sigs } : e))),
      ],
      ['a dropped entry under a checkpoint', exportOf(log.filter((_e, i) => i !== inside))],
    ];
    for (const [what, lines] of cases) {
      const [anchored, full] = both(lines);
      expect(anchored.ok, what).toBe(false);
      expect(full.ok, what).toBe(false);
      expect(located(anchored)[0], what).toEqual(located(full)[0]);
      expect(new Set(anchored.failures.map((f) => f.code)), what).toEqual(new Set(full.failures.map((f) => f.code)));
    }
  });

  it('reads a clean export without parsing its lines whole, and checks audit paths against the rebuilt tree as a full check does', () => {
    const { log } = anchoredLog();
    const lines = exportOf(log);
    const v = new ServerExportVerifier(serverKey);
    for (const line of lines) v.pushLine(line);
    expect(v.finish().ok).toBe(true);
    expect(v.linesReadFast).toBe(log.length);
    // Every hash of every path bent in turn (left siblings found at once, right ones when their node completes).
    for (const at of [0, 5, 17, log.length - 1]) {
      const row = JSON.parse(lines[at + 1]!) as { entry: unknown; receipt: { inclusionProof: string[] } };
      row.receipt.inclusionProof.forEach((_h, e) => {
        const bent = structuredClone(row);
        bent.receipt.inclusionProof[e] = bent.receipt.inclusionProof[e]!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
        const [anchored, full] = both(lines.map((l, i) => (i === at + 1 ? canonicalize(bent) : l)));
        expect(located(anchored), `entry ${at}, hash ${e}`).toEqual([['BAD_RECEIPT', at + 2, log[at]!.seq]]);
        expect(located(anchored)).toEqual(located(full));
        expect(anchored.failures[0]!.reason).toBe(full.failures[0]!.reason);
      });
      // A path one hash short.
      const cut = structuredClone(row);
      cut.receipt.inclusionProof.pop();
      const [anchored, full] = both(lines.map((l, i) => (i === at + 1 ? canonicalize(cut) : l)));
      expect(located(anchored)).toEqual([['BAD_RECEIPT', at + 2, log[at]!.seq]]);
      expect(located(full)).toEqual(located(anchored));
    }
  });

  it('finds the receipt after an entry whose data holds a member named like it', () => {
    const j = new TestJournal({ deviceSeed: 57 });
    journals.push(j);
    appendEntries(j, 2);
    j.store.append({ type: 'note.added', data: { a: 1, receipt: { device: 'x'.repeat(64) } } });
    const lines = exportOf([...j.store.read()]);
    const v = new ServerExportVerifier(serverKey);
    for (const line of lines) v.pushLine(line);
    expect(v.finish().failures).toEqual([]);
    expect(v.linesReadFast).toBe(lines.length - 1);
  });

  it('refuses a custodian enrolled with any key the device used before, not only its current one', () => {
    const j = new TestJournal({ deviceSeed: 55 });
    journals.push(j);
    appendEntries(j, 2);
    const next = seededSigner(56);
    j.store.rotateDeviceKey(next);
    appendEntries(j, 1);
    const entries = [...j.store.read()];
    const enrolled = foundingEnrolment(entries.at(-1)!, j.device, next);
    for (const full of [false, true]) {
      const report = verify(exportOf([...entries, enrolled]), serverKey, full);
      expect(report.ok).toBe(false);
      // The chain verifier's rule (spec 6.1), as for the current device key: the key is refused, so
      // the enrolment's own signature by it is by an unknown key as well; all at the enrolment.
      expect(report.failures[0]).toMatchObject({ code: 'MALFORMED_ENTRY', seq: enrolled.seq });
      expect(report.failures[0]!.reason).toMatch(/signing key [0-9a-f]+… is already in use/);
      expect(report.failures.every((f) => f.seq === enrolled.seq)).toBe(true);
    }
  });
});

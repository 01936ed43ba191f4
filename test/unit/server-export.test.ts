import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import { inclusionProof, merkleRoot } from '../../shared/journal/merkle';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import { ServerExportVerifier, exportFormatOf, type ServerExportReport } from '../../shared/sync/server-export';
import { TestJournal } from '../support/journal-builder';
import { appendEntries } from '../support/sync-fixture';

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

/** The export a server with the test key would produce for this log: header, then entry + receipt lines, each canonical JSON. */
function exportOf(log: readonly SignedEntry[]): string[] {
  const leaves = log.map((e) => sodium.from_hex(e.hash));
  const unsigned = { size: log.length, root: sodium.to_hex(merkleRoot(leaves, sodium)), timestamp: 1_700_000_100_000 };
  const treeHead = {
    ...unsigned,
    signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(unsigned, sodium), server.privateKey)),
  };
  const rows = log.map((entry, logIndex) => {
    const receipt = {
      device: entry.device,
      seq: entry.seq,
      entryHash: entry.hash,
      logIndex,
      treeHead,
      inclusionProof: inclusionProof(logIndex, leaves, sodium).map((p) => sodium.to_hex(p)),
    };
    return canonicalize({ kind: 'entry', entry, receipt });
  });
  return [canonicalize({ kind: 'header', format: 'halfkey-server-export', version: 1, serverKey, treeHead }), ...rows];
}

const verify = (lines: readonly string[], key = serverKey): ServerExportReport => {
  const v = new ServerExportVerifier(key);
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

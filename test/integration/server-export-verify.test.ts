import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalize } from '../../shared/journal/canonical';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import { exportJournal } from '../../electron/journal/export';
import { run as runJournal } from '../../electron/cli/journal';
import type { CliIo } from '../../electron/cli/main';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { startTestServer, type StorageKind, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, grantReviewer, reviewerExport } from '../support/sync-fixture';

let sodium: Sodium;
let dir: string;
beforeAll(async () => {
  sodium = await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-sexport-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const io = (): CliIo & { out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: process.env, cwd: dir };
};

/** Runs `halfkey journal verify` in this process on the given file text; returns exit code and output. */
async function verify(name: string, text: string, ...flags: string[]): Promise<{ code: number; out: string; err: string }> {
  const path = join(dir, name);
  writeFileSync(path, text);
  const cli = io();
  const code = await runJournal(['verify', path, ...flags], cli);
  return { code, out: cli.out.join(''), err: cli.err.join('') };
}

type Line = {
  kind: string;
  entry?: { device: string; seq: number; type: string; data: Record<string, unknown> };
  receipt?: Record<string, unknown>;
  treeHead?: Record<string, unknown>;
};
const parseLines = (text: string): Line[] =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
const joinLines = (lines: readonly string[]): string => `${lines.join('\n')}\n`;

describe.each<StorageKind>(['sqlite', 'postgres'])('halfkey journal verify on the server export: %s', (kind) => {
  let server: TestServer;
  let exported: string;
  let alpha: TestJournal;
  let beta: TestJournal;
  let earlyReceipt: Record<string, unknown>;

  beforeAll(async () => {
    server = await startTestServer(kind);
    // Two devices, synced in turns so their entries interleave in the org-wide log.
    alpha = new TestJournal({ deviceSeed: 31 });
    beta = new TestJournal({ deviceSeed: 32 });
    alpha.enrol('rita', 0x52, { role: 'reviewer' });
    await grantReviewer(server, seededSigner(0x52).publicKey, 'Rita');
    appendEntries(alpha, 6);
    appendEntries(beta, 5);
    const a = await enrolledClient(server, alpha);
    const b = await enrolledClient(server, beta);
    await a.syncNow();
    await b.syncNow();
    const r = [...alpha.store.receipts()][0]!;
    earlyReceipt = {
      device: r.device,
      seq: r.seq,
      entryHash: r.entryHash,
      logIndex: r.logIndex,
      treeHead: r.treeHead,
      inclusionProof: r.inclusionProof,
    };
    appendEntries(alpha, 9);
    appendEntries(beta, 4);
    await a.syncNow();
    await b.syncNow();
    appendEntries(alpha, 2);
    await a.syncNow();

    // The reviewer's session flow, then the export as the reviewer downloads it.
    exported = await reviewerExport(server, seededSigner(0x52));
  });
  afterAll(async () => {
    alpha?.close();
    beta?.close();
    await server?.close();
  });

  it('verifies the untouched export: exit 0, the format named, both devices listed with their heads', async () => {
    const key = server.signer.publicKey;
    const human = await verify(`good-${kind}.jsonl`, exported, '--server-key', key);
    expect(human.err).toBe('');
    expect(human.code).toBe(0);
    expect(human.out).toContain('format halfkey-server-export');
    expect(human.out).toContain('1/1 tree head valid');
    const lines = parseLines(exported);
    const total = lines.length - 1;
    expect(human.out).toContain(`${total}/${total} entries valid, from 2 devices`);
    for (const j of [alpha, beta]) {
      const head = j.store.head()!;
      expect(human.out).toMatch(
        new RegExp(`device ${j.device.publicKey} \\(vault [0-9a-f]+\\): ${head.seq + 1} entries, seq 0\\.\\.${head.seq}.*VALID`),
      );
    }
    expect(human.out).toMatch(/Result: VALID\n$/);

    const json = await verify(`good-json-${kind}.jsonl`, exported, '--server-key', key, '--json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.out) as {
      format: string;
      ok: boolean;
      entries: number;
      devices: { device: string; ok: boolean; entries: number; head: { seq: number; hash: string } }[];
      treeHead: { size: number };
    };
    expect(report).toMatchObject({ format: 'halfkey-server-export', ok: true, entries: total, treeHead: { size: total } });
    expect(report.devices.map((d) => d.device).sort()).toEqual([alpha.device.publicKey, beta.device.publicKey].sort());
    for (const j of [alpha, beta]) {
      const d = report.devices.find((x) => x.device === j.device.publicKey)!;
      expect(d).toMatchObject({ ok: true, entries: j.store.head()!.seq + 1, head: j.store.head() });
    }
  });

  it('is written as canonical JSON, every line', () => {
    const lines = exported.trim().split('\n');
    expect(lines.length).toBeGreaterThan(30);
    for (const line of lines) expect(canonicalize(JSON.parse(line))).toBe(line);
  });

  /** An entry line re-encoded without changing what it parses to, and the reason the verifier should give. */
  const reencodings: Record<string, { change: (line: string) => string; problem: RegExp }> = {
    'a number written 4.0': {
      change: (l) => l.replace(/"n":(\d+)/, '"n":$1.0'),
      problem: /the number \d+\.0 is not an integer \(floating-point numbers are not allowed\)/,
    },
    'added whitespace': {
      change: (l) => l.replace('"kind":"entry"', '"kind": "entry"'),
      problem: /whitespace \(canonical JSON has none\)/,
    },
    // JSON.parse keeps the last of the two; a parser keeping the first would read a break-glass entry.
    'a repeated member': {
      change: (l) => l.replace('"type":"test.event"', '"type":"break-glass.opened","type":"test.event"'),
      problem: /member "type" appears twice/,
    },
    'reordered members': {
      change: (l) => {
        const vault = /,("vault":"[0-9a-f]+")\},"kind":"entry"/.exec(l)![1]!;
        return l.replace(`,${vault}}`, '}').replace('{"entry":{', `{"entry":{${vault},`);
      },
      problem: /member "actor" is out of order \(members are sorted by name\)/,
    },
  };

  it.each(Object.keys(reencodings))('refuses an entry line re-encoded with %s, naming the line, device and seq', async (name) => {
    const { change, problem } = reencodings[name]!;
    const lines = exported.trim().split('\n');
    const key = server.signer.publicKey;
    const at = lines.findIndex((l, i) => i > 3 && (JSON.parse(l) as Line).entry?.type === 'test.event');
    const target = parseLines(exported)[at]!.entry!;
    const changed = change(lines[at]!);
    expect(changed).not.toBe(lines[at]);
    // The same values: only the encoding differs, so the hash recomputed from them cannot tell.
    expect(JSON.parse(changed)).toEqual(JSON.parse(lines[at]!));
    // The same file, unmodified, verifies.
    expect((await verify(`unmodified-${kind}.jsonl`, joinLines(lines), '--server-key', key)).code).toBe(0);

    const file = [...lines];
    file[at] = changed;
    const result = await verify(`reencoded-${kind}.jsonl`, joinLines(file), '--server-key', key);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(
        `^verification FAILED at device ${target.device} seq ${target.seq}: MALFORMED_ENTRY: line ${at + 1} is not canonical JSON: ${problem.source} at character \\d+\n$`,
      ),
    );
    expect(result.out).toMatch(/Result: INVALID/);
    const json = await verify(`reencoded-json-${kind}.jsonl`, joinLines(file), '--server-key', key, '--json');
    const report = JSON.parse(json.out) as { ok: boolean; failures: { line: number; device: string; seq: number; code: string }[] };
    expect(report.ok).toBe(false);
    expect(report.failures[0]).toMatchObject({ line: at + 1, device: target.device, seq: target.seq, code: 'MALFORMED_ENTRY' });
  });

  it('names the device, seq and code of an entry whose bytes were changed', async () => {
    const lines = exported.trim().split('\n');
    const at = lines.findIndex((l, i) => i > 0 && (JSON.parse(l) as Line).entry?.type === 'test.event');
    const target = parseLines(exported)[at]!.entry!;
    const changed = lines[at]!.replace(/"n":(\d)/, (_m, d: string) => `"n":${(Number(d) + 1) % 10}`);
    expect(changed).not.toBe(lines[at]);
    const flipped = [...lines];
    flipped[at] = changed;
    const result = await verify(`flipped-${kind}.jsonl`, joinLines(flipped), '--server-key', server.signer.publicKey);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(
        `^verification FAILED at device ${target.device} seq ${target.seq}: HASH_MISMATCH: stored hash [0-9a-f]{12}… but the entry hashes to [0-9a-f]{12}…: a field was changed\n$`,
      ),
    );
    expect(result.out).toMatch(/Result: INVALID/);
  });

  it('refuses a dropped line, two swapped lines and a truncated tail, naming where the log order breaks', async () => {
    const lines = exported.trim().split('\n');
    const rows = parseLines(exported);
    const key = server.signer.publicKey;

    const dropped = lines.filter((_l, i) => i !== 4);
    const drop = await verify(`dropped-${kind}.jsonl`, joinLines(dropped), '--server-key', key);
    expect(drop.code).toBe(1);
    expect(drop.err).toContain(
      `verification FAILED at device ${rows[5]!.entry!.device} seq ${rows[5]!.entry!.seq}: LOG_INDEX_MISMATCH: line 5 should hold log index 3 but its receipt says 4`,
    );
    expect(drop.out).toMatch(/TRUNCATED_TAIL: the export holds \d+ log entries but the signed tree head covers \d+/);

    const swapped = [...lines];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    const swap = await verify(`swapped-${kind}.jsonl`, joinLines(swapped), '--server-key', key);
    expect(swap.code).toBe(1);
    expect(swap.err).toContain(`verification FAILED at device ${rows[3]!.entry!.device} seq ${rows[3]!.entry!.seq}: LOG_INDEX_MISMATCH`);
    expect(swap.out).toContain('LOG_ROOT_MISMATCH');

    const truncated = await verify(`truncated-${kind}.jsonl`, joinLines(lines.slice(0, -1)), '--server-key', key);
    expect(truncated.code).toBe(1);
    expect(truncated.err).toMatch(/verification FAILED at the export: TRUNCATED_TAIL/);
  });

  it('refuses a changed tree head, a receipt under another head, and a head re-signed by another key', async () => {
    const lines = exported.trim().split('\n');
    const key = server.signer.publicKey;
    const header = JSON.parse(lines[0]!) as { treeHead: { size: number; root: string; timestamp: number; signature: string } };

    const later = [
      canonicalize({ ...header, treeHead: { ...header.treeHead, timestamp: header.treeHead.timestamp + 1 } }),
      ...lines.slice(1),
    ];
    const head = await verify(`head-${kind}.jsonl`, joinLines(later), '--server-key', key);
    expect(head.code).toBe(1);
    expect(head.err).toContain(
      'verification FAILED at the export: BAD_TREE_HEAD: tree head signature does not verify under the pinned server key',
    );

    const old = [...lines];
    const row = JSON.parse(old[1]!) as Line;
    expect(row.entry!.device).toBe(alpha.device.publicKey);
    old[1] = canonicalize({ ...row, receipt: earlyReceipt });
    const stale = await verify(`stale-receipt-${kind}.jsonl`, joinLines(old), '--server-key', key);
    expect(stale.code).toBe(1);
    expect(stale.err).toContain(
      `verification FAILED at device ${alpha.device.publicKey} seq 0: BAD_RECEIPT: the receipt is under tree head`,
    );
    // The chain itself is intact, but the device is not proven logged: its verdict says so.
    expect(stale.out).toMatch(new RegExp(`device ${alpha.device.publicKey} .*: INVALID \\(1 failure\\)`));
    expect(stale.out).toMatch(new RegExp(`device ${beta.device.publicKey} .*: VALID`));

    // An attacker's own server key signs a head over a rewritten log: the pinned key still decides.
    const mallory = sodium.crypto_sign_keypair();
    const forgedHead = {
      ...header.treeHead,
      signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(header.treeHead, sodium), mallory.privateKey)),
    };
    const forged = [canonicalize({ ...header, serverKey: sodium.to_hex(mallory.publicKey), treeHead: forgedHead }), ...lines.slice(1)];
    const resigned = await verify(`forged-${kind}.jsonl`, joinLines(forged), '--server-key', key);
    expect(resigned.code).toBe(1);
    expect(resigned.err).toContain('verification FAILED at the export: SERVER_KEY_MISMATCH');
    expect(resigned.out).toContain('BAD_TREE_HEAD');
  });

  it('refuses the export under a wrong --server-key, and without one asks for it', async () => {
    const other = sodium.to_hex(sodium.crypto_sign_keypair().publicKey);
    const wrong = await verify(`wrong-key-${kind}.jsonl`, exported, '--server-key', other);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(
      /^verification FAILED at the export: SERVER_KEY_MISMATCH: the export was made by server key [0-9a-f]{12}…, not the pinned [0-9a-f]{12}…\n$/,
    );
    expect(wrong.out).toContain('0/1 tree head valid');
    await expect(verify(`no-key-${kind}.jsonl`, exported)).rejects.toThrow(
      /is a server export \(halfkey-server-export\): pass --server-key HEX/,
    );
  });
});

describe('halfkey journal verify from the command line', () => {
  let server: TestServer;
  let exportPath: string;
  let bundlePath: string;
  beforeAll(async () => {
    server = await startTestServer('sqlite');
    const j = new TestJournal({ deviceSeed: 41 });
    const k = new TestJournal({ deviceSeed: 42 });
    try {
      j.enrol('rita', 0x53, { role: 'reviewer' });
      await grantReviewer(server, seededSigner(0x53).publicKey, 'Rita');
      appendEntries(j, 3);
      appendEntries(k, 3);
      await (await enrolledClient(server, j)).syncNow();
      await (await enrolledClient(server, k)).syncNow();
      exportPath = join(dir, 'cli-export.jsonl');
      writeFileSync(exportPath, await reviewerExport(server, seededSigner(0x53)));
      bundlePath = join(dir, 'device.hkj');
      exportJournal(j.store, { out: bundlePath, signer: j.device });
    } finally {
      j.close();
      k.close();
    }
  });
  afterAll(async () => {
    await server?.close();
  });

  const halfkey = (...args: string[]) =>
    spawnSync(process.execPath, ['build/halfkey.mjs', ...args], { encoding: 'utf8', env: process.env, timeout: 60_000 });

  it('exits 0 on the server export with the pinned key, 2 without it, and still reads a device bundle', async () => {
    const ok = halfkey('journal', 'verify', exportPath, '--server-key', server.signer.publicKey);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/format halfkey-server-export[\s\S]*from 2 devices[\s\S]*Result: VALID/);
    const missing = halfkey('journal', 'verify', exportPath);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('pass --server-key HEX');

    const bundle = await verify('device-bundle.hkj', readFileSync(bundlePath, 'utf8'), '--json', '--workers', '0');
    expect(bundle.code).toBe(0);
    expect(JSON.parse(bundle.out)).toMatchObject({ format: 'halfkey-journal-bundle', ok: true });
  });
});

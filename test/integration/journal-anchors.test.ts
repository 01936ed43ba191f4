import { mkdtempSync, rmSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runJournal } from '../../electron/cli/journal';
import type { CliIo } from '../../electron/cli/main';
import { exportJournal } from '../../electron/journal/export';
import { JournalStore } from '../../electron/journal/store';
import { hexToBytes } from '../../shared/journal/hex';
import { MerkleFrontier } from '../../shared/journal/merkle';
import { sodiumNow, sodiumReady } from '../../shared/sodium';
import { TestJournal, insiderRewrite, rewriteRowsSql, seededSigner } from '../support/journal-builder';
import { startTestServer, type TestServer } from '../support/server-fixture';
import { appendEntries, enrolledClient, grantReviewer, reviewerExport } from '../support/sync-fixture';

// Anchors for a device bundle (docs/journal-format.md section 10.4): each of the three attacks
// below yields a bundle that verifies VALID on its own; --device-key and --against catch it.

let dir: string;
let server: TestServer;
const reviewer = seededSigner(0x61);

beforeAll(async () => {
  await sodiumReady();
  dir = mkdtempSync(join(tmpdir(), 'halfkey-anchors-'));
  // Five exports in this file: the default budget (three, then one a minute) would refuse the later ones.
  server = await startTestServer('sqlite', { exportLimit: { capacity: 10, perSecond: 1 } });
  await grantReviewer(server, reviewer.publicKey, 'Rita');
});
afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function verify(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: process.env, cwd: dir };
  const code = await runJournal(['verify', ...args], io);
  return { code, out: out.join(''), err: err.join('') };
}

/** A journal with a custodian, synced to the server. */
async function syncedJournal(deviceSeed: number, entries: number): Promise<{ journal: TestJournal; sync: () => Promise<unknown> }> {
  const journal = new TestJournal({ deviceSeed });
  journal.enrol(`c${deviceSeed}`, deviceSeed + 100);
  appendEntries(journal, entries);
  const client = await enrolledClient(server, journal);
  await client.syncNow();
  return { journal, sync: () => client.syncNow() };
}

function bundle(journal: TestJournal, name: string): string {
  const out = join(dir, name);
  exportJournal(journal.store, { out, signer: journal.device });
  return out;
}

async function serverExport(name: string): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await reviewerExport(server, reviewer));
  return path;
}

describe('halfkey journal verify with anchors', () => {
  it('passes a synced bundle against its device key and the server export', async () => {
    const { journal } = await syncedJournal(41, 12);
    try {
      const b = bundle(journal, 'clean.hkj');
      const e = await serverExport('clean-export.jsonl');
      const r = await verify(b, '--device-key', journal.device.publicKey, '--against', e, '--server-key', server.signer.publicKey);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/device key [0-9a-f]{64}: the bundle is this device's/);
      expect(r.out).toMatch(
        /server export: verified; server head of this device seq \d+, bundle head seq \d+; \d+ entries compared, 0 differ/,
      );
      expect(r.out).toMatch(/Result: VALID\n$/);
      const json = await verify(
        b,
        '--device-key',
        journal.device.publicKey,
        '--against',
        e,
        '--server-key',
        server.signer.publicKey,
        '--json',
      );
      const report = JSON.parse(json.out) as { anchors: { ok: boolean; server: { compared: number } } };
      expect(report.anchors.ok).toBe(true);
      expect(report.anchors.server.compared).toBeGreaterThan(12);
    } finally {
      journal.close();
    }
  });

  it('fails a bundle of another device (re-signed end to end) on either anchor', async () => {
    const { journal } = await syncedJournal(42, 4);
    const other = new TestJournal({ deviceSeed: 43 });
    try {
      other.enrol('c43', 143);
      appendEntries(other, 4);
      const b = bundle(other, 'other.hkj');
      expect((await verify(b)).code).toBe(0); // alone, it verifies
      const byKey = await verify(b, '--device-key', journal.device.publicKey);
      expect(byKey.code).toBe(1);
      expect(byKey.err).toMatch(/anchors: the bundle is device [0-9a-f]{64}’s, not the enrolled device/);
      expect(byKey.out).toContain('Result: INVALID (the bundle verifies, but not against its anchors)');
      const e = await serverExport('other-export.jsonl');
      const bySever = await verify(b, '--against', e, '--server-key', server.signer.publicKey);
      expect(bySever.code).toBe(1);
      expect(bySever.err).toMatch(/the server holds no entry of device/);
    } finally {
      journal.close();
      other.close();
    }
  });

  it('fails a bundle from a rolled-back journal: it ends before the server head of its device', async () => {
    const { journal, sync } = await syncedJournal(44, 6);
    try {
      const old = bundle(journal, 'old.hkj');
      appendEntries(journal, 5);
      await sync();
      const e = await serverExport('later-export.jsonl');
      expect((await verify(old)).code).toBe(0);
      const r = await verify(old, '--against', e, '--server-key', server.signer.publicKey);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/the bundle ends at seq (\d+) but the server holds this device up to seq (\d+)/);
    } finally {
      journal.close();
    }
  });

  it('reports a fork with both hashes when synced entries were rewritten by an insider holding the keys', async () => {
    const { journal } = await syncedJournal(45, 10);
    try {
      const before = [...journal.store.read({ from: 0 })];
      const target = before.find((x) => x.type === 'test.event' && x.data.n === 5)!.seq;
      const rewritten = insiderRewrite(before, journal, (b) => (b.seq === target ? { body: { ...b, data: { n: 55 } } } : undefined));
      // The insider also rebuilds the Merkle frontier and drops the server's receipts, which name the old hashes.
      const frontier = new MerkleFrontier(sodiumNow());
      for (const x of rewritten) frontier.push(hexToBytes(x.hash));
      const { size, nodes } = frontier.snapshot();
      journal.db.exec(
        `${rewriteRowsSql(rewritten)}\nDELETE FROM journal_receipts;\nDELETE FROM journal_receipt_blocks;\nUPDATE journal_frontier SET size = ${size}, nodes = '${JSON.stringify(nodes)}' WHERE id = 1;`,
      );
      const store = JournalStore.open(journal.db, { deviceSigner: journal.device, now: () => journal.clock, checkpointEvery: 8 });
      const forked = join(dir, 'forked.hkj');
      exportJournal(store, { out: forked, signer: journal.device });
      expect((await verify(forked)).code).toBe(0);
      const e = await serverExport('fork-export.jsonl');
      const r = await verify(forked, '--against', e, '--server-key', server.signer.publicKey);
      expect(r.code).toBe(1);
      const moved = rewritten.filter((x, i) => x.hash !== before[i]!.hash);
      expect(r.out).toContain(`FORK at seq ${target}: bundle ${rewritten[target]!.hash}, server ${before[target]!.hash}`);
      expect(r.err).toMatch(new RegExp(`${moved.length} entries differ from what the server logged \\(fork\\), first at seq ${target}`));
    } finally {
      journal.close();
    }
  });

  it('refuses bad anchor arguments before verifying anything', async () => {
    const { journal } = await syncedJournal(46, 1);
    try {
      const b = bundle(journal, 'args.hkj');
      await expect(verify(b, '--device-key', 'XYZ')).rejects.toThrow(/--device-key must be 64 lowercase hex/);
      await expect(verify(b, '--against', join(dir, 'missing.jsonl'), '--server-key', server.signer.publicKey)).rejects.toThrow(
        /no server export at/,
      );
      await expect(verify(b, '--against', b, '--server-key', server.signer.publicKey)).rejects.toThrow(/is not a server export/);
      const e = await serverExport('args-export.jsonl');
      await expect(verify(b, '--against', e)).rejects.toThrow(/--against needs --server-key/);
      await expect(verify(b, '--against', e, '--server-key', 'ab'.repeat(32))).rejects.toThrow(/none of the --server-key values/);
    } finally {
      journal.close();
    }
  });
});

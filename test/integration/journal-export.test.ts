import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { inclusionProof, merkleRoot } from '../../shared/journal/merkle';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';
import { exportJournal } from '../../electron/journal/export';
import { verifyBundleFile } from '../../electron/journal/bundle-file';
import { verifyBundleFileParallel } from '../../electron/journal/parallel-verify';
import { writeJournalReport } from '../../electron/journal/report-pdf';
import { runJournal } from '../../electron/cli/journal';
import type { CliIo } from '../../electron/cli/main';
import { TestJournal, seededSigner } from '../support/journal-builder';
import { readQrPng } from '../support/read-qr';
import { pdfLines } from '../support/pdf-text';
import { PDFDocument, StandardFonts } from 'pdf-lib';

let sodium: Sodium;
const open: TestJournal[] = [];
beforeAll(async () => {
  sodium = await sodiumReady();
});
afterEach(() => {
  for (const j of open.splice(0)) j.close();
});

/** A journal with two custodians, checkouts (one with a CSV-hostile reason) and real server receipts. */
function sampleJournal(): TestJournal {
  const j = new TestJournal({ checkpointEvery: 4 });
  open.push(j);
  j.store.append({ type: 'session.started', data: {} });
  const alice = j.enrol('alice', 2, { name: 'Alice Example', organisation: 'Provider', role: 'password' });
  const bob = j.enrol('bob', 3, { name: 'Bob Example', organisation: 'Customer', role: 'mfa' });
  j.tick();
  j.store.append({
    type: 'checkout.opened',
    actor: alice,
    account: '123456789012',
    data: { item: 'password', reason: 'incident 42, "root" login', ticket: 'INC-42' },
  });
  j.tick();
  j.store.append({ type: 'checkout.opened', actor: bob, account: '123456789012', data: { item: 'mfa', reason: '=HYPERLINK("x")' } });
  j.tick();
  j.store.append({ type: 'checkout.closed', actor: alice, account: '123456789012', data: { item: 'password' } });
  // The server logged the first entries in its own tree and signed the head.
  const server = sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(200));
  const entries = [...j.entries()].slice(0, 5);
  const leaves = entries.map((e) => sodium.from_hex(e.hash));
  const head = { size: leaves.length, root: sodium.to_hex(merkleRoot(leaves)), timestamp: j.clock };
  const signature = sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(head), server.privateKey));
  entries.forEach((e, i) =>
    j.store.addReceipt({
      device: e.device,
      seq: e.seq,
      entryHash: e.hash,
      logIndex: i,
      treeHead: { ...head, signature },
      inclusionProof: inclusionProof(i, leaves).map((h) => sodium.to_hex(h)),
      serverKey: sodium.to_hex(server.publicKey),
      signature,
    }),
  );
  return j;
}

const io = (cwd: string): CliIo & { out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: process.env, cwd };
};

describe('journal export bundle', () => {
  it('exports a bundle that verifies on one core and on all cores, with receipts, roster and CSV', async () => {
    const j = sampleJournal();
    const out = join(j.dir, 'journal.hkj');
    const csv = join(j.dir, 'journal.csv');
    const progress: number[] = [];
    const { manifest } = exportJournal(j.store, { out, csv, signer: j.device, onProgress: (p) => progress.push(p.done) });
    expect(manifest.complete).toBe(true);
    expect(manifest.head).toEqual(j.store.head());
    expect(manifest.lastCheckpoint?.seq).toBe(manifest.head.seq);
    expect(progress.at(-1)).toBe(manifest.head.seq + 1);
    expect(existsSync(`${out}.partial`)).toBe(false);

    const report = await verifyBundleFile(out, {
      csvPath: csv,
      serverKeys: [sodium.to_hex(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(200)).publicKey)],
    });
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.receipts).toEqual({ count: 5, valid: 5 });
    expect(report.roster.map((m) => [m.id, m.organisation, m.role])).toEqual([
      ['alice', 'Provider', 'password'],
      ['bob', 'Customer', 'mfa'],
    ]);
    const parallel = await verifyBundleFileParallel(out, { workers: 2, csvPath: csv });
    expect(parallel.failures).toEqual([]);
    expect(parallel.entries).toBe(report.entries);

    const csvText = readFileSync(csv, 'utf8');
    expect(csvText).toContain('"incident 42, ""root"" login"');
    expect(csvText).toContain(`"'=HYPERLINK(""x"")"`);
    expect(csvText.split('\r\n')[0]).toBe('seq,time,type,actor,account,reason,ticket,hash');
  });

  it('fails a bundle whose server receipt is for another hash, or whose CSV was edited', async () => {
    const j = sampleJournal();
    const out = join(j.dir, 'journal.hkj');
    const csv = join(j.dir, 'journal.csv');
    exportJournal(j.store, { out, csv, signer: j.device });
    writeFileSync(csv, readFileSync(csv, 'utf8').replace('incident 42', 'incident 43'));
    const report = await verifyBundleFile(out, { csvPath: csv, serverKeys: ['ab'.repeat(32)] });
    expect(report.ok).toBe(false);
    expect(new Set(report.failures.map((f) => f.code))).toEqual(new Set(['PART_HASH_MISMATCH', 'BAD_RECEIPT']));
  });

  it('exports a requested range with the chain from genesis and marks it incomplete', async () => {
    const j = sampleJournal();
    const out = join(j.dir, 'range.hkj');
    const { manifest } = exportJournal(j.store, { out, signer: j.device, from: 3, to: 6 });
    expect(manifest).toMatchObject({ complete: false, requested: { from: 3, to: 6 }, head: { seq: 6 } });
    const report = await verifyBundleFile(out);
    expect(report.ok).toBe(true);
    expect(report.found).toEqual({ from: 0, to: 6 });
  });

  it('refuses an export signed by another key and leaves no file behind', () => {
    const j = sampleJournal();
    const out = join(j.dir, 'x.hkj');
    expect(() => exportJournal(j.store, { out, signer: seededSigner(99) })).toThrow(/current device key/);
    expect(existsSync(out)).toBe(false);
    expect(() => exportJournal(j.store, { out, signer: j.device, from: 5, to: 2 })).toThrow(/--to/);
  });

  it('writes a PDF report whose text and QR code carry the head checkpoint hash', async () => {
    const j = sampleJournal();
    const out = join(j.dir, 'journal.hkj');
    const pdf = join(j.dir, 'report.pdf');
    const { manifest } = exportJournal(j.store, { out, signer: j.device });
    await writeJournalReport(out, pdf, { from: 0 });
    const text = execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' });
    expect(text).toContain('RESULT: VALID');
    expect(text).toContain(manifest.lastCheckpoint!.hash);
    expect(text).toMatch(/checkout\.opened by alice; account 123456789012 password/);
    expect(text).toContain('reason: incident 42, "root" login');
    execFileSync('pdftoppm', ['-png', '-r', '150', '-f', '1', '-l', '1', pdf, join(j.dir, 'page')]);
    const png = join(j.dir, 'page-1.png');
    expect(readQrPng(png)).toBe(`halfkey:checkpoint:${manifest.vault}:${manifest.lastCheckpoint!.seq}:${manifest.lastCheckpoint!.hash}`);
  });

  it('wraps long lines inside the margins, draws symbols in words, and prints the head when no checkpoint covers the range', async () => {
    const j = new TestJournal({ checkpointEvery: 64 });
    open.push(j);
    const alice = j.enrol('alice', 2, { name: 'Alice Example', organisation: 'Provider', role: 'password' });
    const words = Array.from({ length: 40 }, (_, i) => `step${i}`).join(' ');
    j.tick();
    j.store.append({
      type: 'checkout.opened',
      actor: alice,
      account: '123456789012',
      data: { item: 'password', reason: `✓ approved by ops → ${words} END-OF-REASON` },
    });
    j.tick();
    j.store.append({ type: 'checkout.closed', actor: alice, account: '123456789012', data: { item: 'password' } });
    const out = join(j.dir, 'partial.hkj');
    const pdf = join(j.dir, 'partial.pdf');
    const { manifest } = exportJournal(j.store, { out, signer: j.device, to: 2 });
    expect(manifest.lastCheckpoint).toBeNull();
    await writeJournalReport(out, pdf, { from: 0, to: 2 });
    const { lines } = await pdfLines(readFileSync(pdf));
    // Every drawn line fits between the margins (A4 595 pt, 48 pt each side; Helvetica 8 pt is at most ~8 pt a character).
    const doc = await PDFDocument.create();
    const helvetica = await doc.embedFont(StandardFonts.Helvetica);
    for (const line of lines) expect(helvetica.widthOfTextAtSize(line, 8)).toBeLessThanOrEqual(595 - 2 * 48 + 1);
    const text = lines.join(' ');
    expect(text).toContain('END-OF-REASON');
    expect(text).toContain('[OK] approved by ops -> step0');
    expect(text).not.toContain('?');
    expect(text).toContain('No checkpoint in this bundle comes at or after seq 2');
    execFileSync('pdftoppm', ['-png', '-r', '150', '-f', '1', '-l', '1', pdf, join(j.dir, 'partial')]);
    expect(readQrPng(join(j.dir, 'partial-1.png'))).toBe(`halfkey:head:${manifest.vault}:2:${manifest.head.hash}`);
  });

  it('CLI: verify prints a summary and exits 0, names the first bad entry and exits 1 when tampered', async () => {
    const j = sampleJournal();
    const out = join(j.dir, 'journal.hkj');
    // `journal export` runs through the router on a real vault (journal-cli-vault.test.ts); this one checks verify.
    exportJournal(j.store, { out, csv: join(j.dir, 'journal.csv'), signer: j.device });
    const ok = io(j.dir);
    expect(await runJournal(['verify', 'journal.hkj', '--csv', 'journal.csv', '--workers', '0'], ok)).toBe(0);
    expect(ok.out.join('')).toMatch(/(\d+)\/\1 entries valid/);
    expect(ok.out.join('')).toContain('Result: VALID');
    const lines = readFileSync(out, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes('"kind":"entry"') && l.includes('incident 42'));
    lines[at] = lines[at]!.replace('incident 42', 'incident 24');
    writeFileSync(out, lines.join('\n'));
    const bad = io(j.dir);
    expect(await runJournal(['verify', 'journal.hkj'], bad)).toBe(1);
    expect(bad.err.join('')).toMatch(/verification FAILED at seq \d+: HASH_MISMATCH/);
    const json = io(j.dir);
    await runJournal(['verify', 'journal.hkj', '--json', '--workers', '0'], json);
    expect((JSON.parse(json.out.join('')) as { ok: boolean }).ok).toBe(false);
    await expect(runJournal(['verify'], io(j.dir))).rejects.toThrow(/expected 1 argument/);
    await expect(runJournal(['export', '--vault', j.dir, '--out', 'x', '--from', '-1'], io(j.dir))).rejects.toThrow();
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sodiumReady } from '../../shared/sodium';
import type { JsonObject, JsonValue } from '../../shared/journal/canonical';
import type { EntrySigner, SignedEntry } from '../../shared/journal/entry';
import { MAX_ENTRY_DEPTH } from '../../shared/journal/limits';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  PartHash,
  RosterBuilder,
  custodianLine,
  entryLine,
  headerLine,
  manifestLine,
  receiptLine,
  type BundleManifest,
} from '../../shared/journal/bundle';
import { exportJournal } from '../../electron/journal/export';
import { VECTORS_DIR } from './journal-vectors';
import { TestJournal } from './journal-builder';

export interface BundleEdits {
  /** Changes one entry's line (given without its line feed) before the parts are hashed. */
  readonly line?: (line: string, entry: SignedEntry) => string;
  readonly header?: string;
  readonly manifest?: (m: BundleManifest) => BundleManifest;
  readonly noFinalLineFeed?: boolean;
  /** Receipt lines to write after entries: for each entry, the receipts (with their server key) that follow it. */
  readonly receipts?: (entry: SignedEntry) => readonly { readonly receipt: JsonValue; readonly serverKey: string }[];
}

/** The bundle an honest exporter (or an insider with the device key, who re-signs the manifest) would write for these entries. */
export function bundleOf(entries: readonly SignedEntry[], signer: EntrySigner, edits: BundleEdits = {}): string {
  const roster = new RosterBuilder();
  for (const e of entries) roster.add(e);
  const parts = { roster: new PartHash(), entries: new PartHash(), receipts: new PartHash() };
  let text = edits.header ?? headerLine();
  for (const member of roster.members()) {
    const line = custodianLine(member);
    parts.roster.add(line);
    text += line;
  }
  let lastCheckpoint: BundleManifest['lastCheckpoint'] = null;
  for (const e of entries) {
    const line = `${(edits.line ?? ((l) => l))(entryLine(e).trimEnd(), e)}\n`;
    parts.entries.add(line);
    text += line;
    for (const r of edits.receipts?.(e) ?? []) {
      const receipt = receiptLine(r.receipt as JsonObject, r.serverKey);
      parts.receipts.add(receipt);
      text += receipt;
    }
    if (e.type === 'checkpoint') lastCheckpoint = { seq: e.seq, hash: e.hash, root: String(e.data.root) };
  }
  const head = entries.at(-1)!;
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    vault: head.vault,
    device: head.device,
    signingKey: signer.publicKey,
    exportedAt: head.time,
    requested: { from: 0, to: null },
    head: { seq: head.seq, hash: head.hash },
    complete: true,
    lastCheckpoint,
    parts: { roster: parts.roster.digest(), entries: parts.entries.digest(), receipts: parts.receipts.digest(), csv: null },
  };
  text += manifestLine((edits.manifest ?? ((m) => m))(manifest), signer);
  return edits.noFinalLineFeed ? text.slice(0, -1) : text;
}

/** `data` nested so that the entry holding it as `data.deep` is `entryDepth` levels deep (the entry itself is level 1). */
export function nestedData(entryDepth: number): { deep: JsonValue } {
  let deep: JsonValue = 'bottom';
  for (let level = 2; level < entryDepth; level++) deep = { level: deep };
  return { deep };
}

export const DEPTH_VECTOR = join(VECTORS_DIR, 'depth-limit.hkj');

/**
 * The depth-limit vector (docs/journal-format.md, section 12): a journal from fixed seeds and a
 * fixed clock (device seed 0x01, checkpoints every 4) with one entry exactly at the limit
 * (MAX_ENTRY_DEPTH levels, valid) and one a level deeper (MALFORMED_ENTRY, skipped, so the entry
 * after it follows a gap), exported as a bundle.
 */
export async function buildDepthVector(): Promise<string> {
  await sodiumReady();
  const j = new TestJournal({ checkpointEvery: 4, start: 1_767_225_600_000 });
  try {
    j.store.append({ type: 'session.started', data: {} });
    j.tick();
    j.store.append({ type: 'note.at-limit', data: nestedData(MAX_ENTRY_DEPTH) });
    j.tick();
    j.store.append({ type: 'note.too-deep', data: nestedData(MAX_ENTRY_DEPTH + 1) });
    j.tick();
    j.store.append({ type: 'session.ended', data: {} });
    const out = join(j.dir, 'depth.hkj');
    exportJournal(j.store, { out, signer: j.device, now: () => j.clock + 1_000 });
    return readFileSync(out, 'utf8');
  } finally {
    j.close();
  }
}

/** `npx tsx test/support/journal-bundles.ts --write` regenerates the committed depth-limit vector. */
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  const text = await buildDepthVector();
  writeFileSync(DEPTH_VECTOR, text);
  process.stdout.write(`wrote ${DEPTH_VECTOR}\n`);
}

/** A scratch folder for bundle files, removed by the returned function. */
export function scratchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'halfkey-bundles-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

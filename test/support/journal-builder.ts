import { afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sodiumNow } from '../../shared/sodium';
import { canonicalize } from '../../shared/journal/canonical';
import { ENTRY_TYPES } from '../../shared/journal/entry-types';
import { ed25519Signer, entryBodyOf, signEntry, type EntryBody, type EntrySigner, type SignedEntry } from '../../shared/journal/entry';
import { merkleRoot } from '../../shared/journal/merkle';
import { openDatabase, type Db } from '../../electron/base/database';
import { JournalStore, type JournalActor } from '../../electron/journal/store';

/** A deterministic Ed25519 signer from a one-byte seed (test keys only). */
export function seededSigner(seedByte: number): EntrySigner {
  const sodium = sodiumNow();
  return ed25519Signer(sodium.crypto_sign_seed_keypair(new Uint8Array(32).fill(seedByte)).privateKey);
}

export const TEST_VAULT = '0123456789abcdef0123456789abcdef';

/** A real journal in a real SQLite file under a temp folder, with a controllable clock. */
export class TestJournal {
  readonly dir: string;
  readonly path: string;
  readonly db: Db;
  readonly store: JournalStore;
  readonly device: EntrySigner;
  /** Each enrolled custodian's signer by id, for tests that forge as an insider holding the keys. */
  readonly custodians = new Map<string, EntrySigner>();
  clock: number;

  constructor(options: { checkpointEvery?: number; heartbeatMs?: number; deviceSeed?: number; start?: number } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'halfkey-jtest-'));
    this.path = join(this.dir, 'vault.db');
    this.db = openDatabase(this.path);
    this.device = seededSigner(options.deviceSeed ?? 1);
    this.clock = options.start ?? 1_700_000_000_000;
    this.store = JournalStore.open(this.db, {
      deviceSigner: this.device,
      now: () => this.clock,
      checkpointEvery: options.checkpointEvery ?? 8,
      heartbeatMs: options.heartbeatMs ?? 60_000,
    });
    this.store.init(TEST_VAULT, { name: 'test vault' });
  }

  /** Enrols a custodian by writing custodian.enrolled, self-signed (proof of possession). */
  enrol(id: string, seedByte: number, extra: { name?: string; organisation?: string; role?: string } = {}): JournalActor {
    const signer = seededSigner(seedByte);
    const actor = { id, signer };
    this.custodians.set(id, signer);
    this.store.append({
      type: 'custodian.enrolled',
      actor,
      data: {
        custodian: id,
        signingKey: signer.publicKey,
        name: extra.name ?? id,
        organisation: extra.organisation ?? 'acme',
        role: extra.role ?? 'password',
      },
    });
    return actor;
  }

  tick(ms = 1_000): void {
    this.clock += ms;
  }

  entries(): ReturnType<JournalStore['read']> {
    return this.store.read({});
  }

  close(): void {
    if (this.db.open) this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What an insider's edit of one entry body yields: the new body, and who signs it (default: the device, then the actor). */
export interface InsiderEdit {
  readonly body: EntryBody;
  readonly signers?: readonly EntrySigner[];
}

/**
 * Rewrites history as an insider holding the device key and the custodians' keys would: `edit`
 * changes the bodies it wants (returning undefined leaves one as it was), and every entry from
 * the first edited one on is re-linked, its checkpoint roots recomputed and re-signed. Only what
 * the edit itself breaks can then fail verification.
 */
export function insiderRewrite(
  entries: readonly SignedEntry[],
  keys: { readonly device: EntrySigner; readonly custodians: ReadonlyMap<string, EntrySigner> },
  edit: (body: EntryBody) => InsiderEdit | undefined,
): SignedEntry[] {
  const sodium = sodiumNow();
  const out: SignedEntry[] = [];
  let rewriting = false;
  for (const original of entries) {
    let body: EntryBody = entryBodyOf(original);
    const prev = out.at(-1);
    if (rewriting && prev !== undefined) {
      body = { ...body, prev: prev.hash };
      if (body.type === ENTRY_TYPES.checkpoint) {
        body = {
          ...body,
          data: {
            ...body.data,
            root: sodium.to_hex(
              merkleRoot(
                out.map((e) => sodium.from_hex(e.hash)),
                sodium,
              ),
            ),
          },
        };
      }
    }
    const edited = edit(body);
    if (edited === undefined && !rewriting) {
      out.push(original);
      continue;
    }
    rewriting = true;
    const next = edited?.body ?? body;
    const actorKey = next.actor === null ? undefined : keys.custodians.get(next.actor);
    out.push(signEntry(next, edited?.signers ?? (actorKey === undefined ? [keys.device] : [keys.device, actorKey]), sodium));
  }
  return out;
}

const sqlText = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** SQL that writes the given entries over the rows with their seq, every column of the row. */
export function rewriteRowsSql(entries: readonly SignedEntry[]): string {
  return entries
    .map(
      (e) =>
        `UPDATE journal_entries SET v = ${e.v}, vault = ${sqlText(e.vault)}, device = ${sqlText(e.device)}, prev = ${sqlText(e.prev)}, time = ${e.time}, type = ${sqlText(e.type)}, actor = ${e.actor === null ? 'NULL' : sqlText(e.actor)}, data = ${sqlText(canonicalize(e.data))}, hash = ${sqlText(e.hash)}, sigs = ${sqlText(JSON.stringify(e.sigs))} WHERE seq = ${e.seq};`,
    )
    .join('\n');
}

/** A maker of test journals, each closed (and its folder removed) after the test that made it. */
export function journalsClosedAfterEach(): (options?: ConstructorParameters<typeof TestJournal>[0]) => TestJournal {
  const open: TestJournal[] = [];
  afterEach(() => {
    for (const j of open.splice(0)) j.close();
  });
  return (options) => {
    const j = new TestJournal(options);
    open.push(j);
    return j;
  };
}

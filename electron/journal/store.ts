import { fileURLToPath } from 'node:url';
import { HalfkeyError } from '../../shared/api/result';
import { sodiumNow } from '../../shared/sodium';
import { CanonicalEncodingError, canonicalize, type JsonObject } from '../../shared/journal/canonical';
import {
  ENTRY_VERSION,
  GENESIS_PREV,
  canonicalBodyText,
  sealEntry,
  type EntryBody,
  type EntrySigner,
  type SignedEntry,
} from '../../shared/journal/entry';
import {
  CHECKPOINT_EVERY,
  ENTRY_TYPES,
  ENTRY_TYPE_PATTERN,
  HEARTBEAT_MS,
  UNSAFE_TEXT,
  VAULT_ID,
  checkpointData,
} from '../../shared/journal/entry-types';
import { MerkleFrontier, type Sha256 } from '../../shared/journal/merkle';
import { receiptsOfBlock, type Receipt, type ReceiptBlock, type TreeHead } from '../../shared/sync/receipt';
import { migrate, prepared, type Db } from '../base/database';
import { nativePrimitives } from '../../server/native-primitives';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

/** The custodian acting for an entry; their key co-signs it after the device key. */
export interface JournalActor {
  readonly id: string;
  readonly signer: EntrySigner;
}

/** One entry to append. `account`, when given, is stored as `data.account` and indexed. */
export interface AppendInput {
  readonly type: string;
  readonly actor?: JournalActor | null;
  readonly account?: string | null;
  readonly data: JsonObject;
  /** Further custodians signing after the actor (a two-person entry's newcomer). */
  readonly cosigners?: readonly EntrySigner[];
}

export interface JournalFilter {
  /** Only entries with seq > after (a paging cursor), and from <= seq <= to. */
  readonly after?: number;
  readonly from?: number;
  readonly to?: number;
  readonly type?: string;
  readonly actor?: string;
  readonly account?: string;
  readonly since?: number;
  readonly until?: number;
  readonly limit?: number;
}

export interface JournalHead {
  readonly seq: number;
  readonly hash: string;
}

export interface JournalStoreOptions {
  readonly deviceSigner: EntrySigner;
  readonly now?: () => number;
  /** Checkpoint interval written into the genesis entry (default CHECKPOINT_EVERY); only tests lower it. */
  readonly checkpointEvery?: number;
  /** Heartbeat interval written into the genesis entry (default HEARTBEAT_MS). */
  readonly heartbeatMs?: number;
}

/** A server receipt as kept in journal_receipts; treeHead carries the server's signature. */
export interface StoredReceipt {
  readonly device: string;
  readonly seq: number;
  readonly entryHash: string;
  readonly logIndex: number;
  readonly treeHead: JsonObject;
  readonly inclusionProof: readonly string[];
  readonly serverKey: string;
  /** The tree head signature (duplicated from treeHead for indexing by the sync client). */
  readonly signature: string;
}

interface ReceiptRow {
  device: string;
  seq: number;
  entry_hash: string;
  log_index: number;
  tree_head: string;
  inclusion_proof: string;
  server_key: string;
  signature: string;
}

interface BlockRow {
  rowid: number;
  device: string;
  first_seq: number;
  count: number;
  log_start: number;
  tree_head: string;
  frontier: string;
  entry_hashes: Uint8Array;
  server_key: string;
  signature: string;
}

function receiptFromRow(r: ReceiptRow): StoredReceipt {
  return {
    device: r.device,
    seq: r.seq,
    entryHash: r.entry_hash,
    logIndex: r.log_index,
    treeHead: JSON.parse(r.tree_head) as JsonObject,
    inclusionProof: JSON.parse(r.inclusion_proof) as string[],
    serverKey: r.server_key,
    signature: r.signature,
  };
}

/** The same stored block, every column compared (the entry hashes byte for byte, not through hex). */
function sameBlockRow(a: BlockRow, b: BlockRow): boolean {
  return (
    a.rowid === b.rowid &&
    a.device === b.device &&
    a.first_seq === b.first_seq &&
    a.count === b.count &&
    a.log_start === b.log_start &&
    a.tree_head === b.tree_head &&
    a.frontier === b.frontier &&
    a.server_key === b.server_key &&
    a.signature === b.signature &&
    Buffer.compare(a.entry_hashes, b.entry_hashes) === 0
  );
}

interface EntryRow {
  seq: number;
  v: number;
  vault: string;
  device: string;
  prev: string;
  time: number;
  type: string;
  actor: string | null;
  data: string;
  hash: string;
  sigs: string;
}

interface ChainTip {
  readonly seq: number;
  readonly hash: string;
  readonly time: number;
  readonly vault: string;
  readonly device: string;
  /** Non-checkpoint entries since the last checkpoint (or genesis). */
  readonly sinceCheckpoint: number;
  readonly checkpointEvery: number;
}

const MAX_LIMIT = 10_000;
/**
 * Largest entry body (canonical JSON, bytes). An entry records an event, not a document; the
 * limit keeps every entry far below what one sync upload carries (MAX_BATCH_BYTES).
 */
export const MAX_ENTRY_BYTES = 64 * 1024;

/** Native SHA-256 (the same digests as libsodium's): on the append path it costs a fraction of the wasm call. */
const sha256: Sha256 = nativePrimitives.sha256;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** An entry signed in this transaction and the account it is indexed under, waiting for its INSERT. */
type PendingRow = { readonly entry: SignedEntry; readonly account: string | null };
/** Rows per INSERT statement (12 parameters each: far below SQLite's limit of 32,766). */
const INSERT_CHUNK = 50;
/** The INSERT of `n` journal rows in one statement. */
function insertSql(n: number): string {
  return `INSERT INTO journal_entries (seq, v, vault, device, prev, time, type, actor, data, hash, sigs, account) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
}

/** Turns a stored row back into the signed entry it was written from. */
export function entryFromRow(row: EntryRow): SignedEntry {
  return {
    v: row.v as typeof ENTRY_VERSION,
    vault: row.vault,
    device: row.device,
    seq: row.seq,
    prev: row.prev,
    time: row.time,
    type: row.type,
    actor: row.actor,
    data: JSON.parse(row.data) as JsonObject,
    hash: row.hash,
    sigs: JSON.parse(row.sigs) as SignedEntry['sigs'],
  };
}

/**
 * The append-only signed journal of one device for one vault, in the vault's own SQLite file.
 * Appends join the caller's transaction (better-sqlite3 nests them as savepoints), so a vault
 * change and the entry recording it commit or roll back together.
 */
export class JournalStore {
  private cachedHead: { head: JournalHead | null; time: number | null; version: number } | null = null;
  /** The frontier after entry `seq` with `hash`; reused only while that entry is still the tip. */
  private frontierCache: { seq: number; hash: string; frontier: MerkleFrontier } | null = null;
  private genesisEvery: number | null = null;
  private deviceSigner: EntrySigner;
  /** Runs before every write (see setBeforeWrite); null when nothing is registered. */
  private beforeWrite: (() => void) | null = null;
  private inBeforeWrite = false;
  private readonly now: () => number;
  private readonly checkpointEvery: number;
  private readonly heartbeatMs: number;
  private lastBlock: { row: BlockRow; receipts: readonly StoredReceipt[] } | null = null;

  private constructor(
    private readonly db: Db,
    options: JournalStoreOptions,
  ) {
    this.deviceSigner = options.deviceSigner;
    this.now = options.now ?? Date.now;
    this.checkpointEvery = options.checkpointEvery ?? CHECKPOINT_EVERY;
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    if (!Number.isSafeInteger(this.checkpointEvery) || this.checkpointEvery < 1)
      throw new RangeError('checkpointEvery must be a positive integer');
    if (!Number.isSafeInteger(this.heartbeatMs) || this.heartbeatMs < 1) throw new RangeError('heartbeatMs must be a positive integer');
  }

  /** Opens the journal on an open vault database, applying the journal migrations. */
  static open(db: Db, options: JournalStoreOptions): JournalStore {
    migrate(db, 'journal', MIGRATIONS);
    const store = new JournalStore(db, options);
    const current = store.currentDeviceKey();
    if (current !== null && current !== options.deviceSigner.publicKey) {
      throw new HalfkeyError(
        'JOURNAL_INVALID',
        'The device key from the keychain is not the key this journal is signed with; restore the right keychain entry or use the recovery kit.',
        {
          expected: current,
          got: options.deviceSigner.publicKey,
        },
      );
    }
    return store;
  }

  /** Writes seq 0 'vault.genesis' naming vault id, device key and any data given. Throws if a genesis exists. */
  init(vaultId: string, data: JsonObject): SignedEntry {
    if (!VAULT_ID.test(vaultId))
      throw new HalfkeyError('INVALID_PAYLOAD', 'A vault id is 32 lowercase hex characters.', { field: 'vaultId' });
    return this.db.transaction(() => {
      if (this.readTip() !== null)
        throw new HalfkeyError('CONFLICT', 'This journal already has a genesis entry; a vault is initialised once.');
      const genesisData: JsonObject = {
        ...data,
        deviceKey: this.deviceSigner.publicKey,
        checkpointEvery: this.checkpointEvery,
        heartbeatMs: this.heartbeatMs,
      };
      const body: EntryBody = {
        v: ENTRY_VERSION,
        vault: vaultId,
        device: this.deviceSigner.publicKey,
        seq: 0,
        prev: GENESIS_PREV,
        time: this.now(),
        type: ENTRY_TYPES.genesis,
        actor: null,
        data: genesisData,
      };
      checkCanonical(body.data);
      const entry = this.signBody(body, [this.deviceSigner]);
      this.insert(entry, null);
      this.stmt('INSERT INTO journal_frontier (id, size, nodes) VALUES (1, 0, ?)').run('[]');
      this.pushFrontier([entry.hash]);
      this.invalidate();
      return entry;
    })();
  }

  /** Appends one entry; joins the caller's transaction if one is open, else runs in its own. Signs by device, plus actor if given. */
  append(input: AppendInput): SignedEntry {
    return this.appendBatch([input])[0]!;
  }

  /**
   * Registers what must run before any entry is written (or null to remove it): the heartbeat's
   * session guard, which writes `session.resumed` first when an entry would come too long after
   * the last one (an app action handled after a sleep, before the overdue timer ran). It runs in
   * the caller's transaction when one is open, and never for the writes it makes itself.
   */
  setBeforeWrite(hook: (() => void) | null): void {
    this.beforeWrite = hook;
  }

  private runBeforeWrite(): void {
    if (this.beforeWrite === null || this.inBeforeWrite) return;
    this.inBeforeWrite = true;
    try {
      this.beforeWrite();
    } finally {
      this.inBeforeWrite = false;
    }
  }

  /** Appends entries in one transaction (plus any checkpoints they make due); returns the caller's entries. */
  appendBatch(inputs: readonly AppendInput[]): SignedEntry[] {
    inputs.forEach((input, i) => validateInput(input, i));
    this.runBeforeWrite();
    try {
      return this.appendValidated(inputs);
    } catch (error) {
      // Non-journal JSON (a float, a class instance) is found while hashing, inside the
      // transaction, so nothing of the batch was kept.
      if (error instanceof CanonicalEncodingError)
        throw new HalfkeyError('INVALID_PAYLOAD', `Entry data is not journal JSON: ${error.message}.`, { field: 'data' });
      throw error;
    }
  }

  private appendValidated(inputs: readonly AppendInput[]): SignedEntry[] {
    return this.db.transaction(() => {
      // requireTip() reads a fresh object each time: this one is the batch's own to move along.
      const tip: Mutable<ChainTip> = this.requireTip();
      const frontier = this.loadFrontier(tip);
      const written: SignedEntry[] = [];
      const rows: PendingRow[] = [];
      const add = (signed: { entry: SignedEntry; digest: Uint8Array }, account: string | null): void => {
        const { entry } = signed;
        rows.push({ entry, account });
        frontier.push(signed.digest);
        tip.seq = entry.seq;
        tip.hash = entry.hash;
        tip.time = entry.time;
        tip.sinceCheckpoint = entry.type === ENTRY_TYPES.checkpoint ? 0 : tip.sinceCheckpoint + 1;
      };
      for (const input of inputs) {
        const data: JsonObject = input.account == null ? input.data : { ...input.data, account: input.account };
        const actor = input.actor ?? null;
        const coSigners = [...(actor ? [actor.signer] : []), ...(input.cosigners ?? [])];
        const signed = this.signNext(tip, input.type, actor?.id ?? null, data, coSigners);
        add(signed, input.account ?? null);
        written.push(signed.entry);
        if (tip.sinceCheckpoint >= tip.checkpointEvery) {
          add(
            this.signNext(tip, ENTRY_TYPES.checkpoint, null, checkpointData(frontier.size, sodiumNow().to_hex(frontier.root()), false), []),
            null,
          );
        }
      }
      this.insertRows(rows);
      this.saveFrontier(frontier, tip);
      this.invalidate();
      return written;
    })();
  }

  /**
   * Writes a checkpoint unless the last entry already is one (before an upload: a batch that ends
   * on a checkpoint is checked by the server against its signed root instead of entry by entry,
   * docs/sync-protocol.md "Anchored ingest"); returns the new checkpoint, or null when none was needed.
   */
  checkpointTail(): SignedEntry | null {
    // Another connection writing in between costs at most a second checkpoint in a row, which is valid.
    return this.requireTip().sinceCheckpoint === 0 ? null : this.checkpoint();
  }

  /** Writes a checkpoint now (heartbeats, before an export, at shutdown); returns it. */
  checkpoint(options: { heartbeat?: boolean } = {}): SignedEntry {
    this.runBeforeWrite();
    return this.db.transaction(() => {
      const tip = this.requireTip();
      const frontier = this.loadFrontier(tip);
      const entry = this.sign(
        tip,
        ENTRY_TYPES.checkpoint,
        null,
        checkpointData(frontier.size, sodiumNow().to_hex(frontier.root()), options.heartbeat ?? false),
        [],
      );
      this.insert(entry, null);
      frontier.push(Buffer.from(entry.hash, 'hex'));
      this.saveFrontier(frontier, entry);
      this.invalidate();
      return entry;
    })();
  }

  /**
   * Rotates the device signing key: writes 'device.key-rotated' signed by the old and the new
   * key, after which only the new key signs. The caller stores the new key in the keychain in
   * the same step (and keeps the old one until this returns).
   */
  rotateDeviceKey(newSigner: EntrySigner, data: JsonObject = {}): SignedEntry {
    return this.db.transaction(() => {
      const tip = this.requireTip();
      const frontier = this.loadFrontier(tip);
      const entry = this.sign(tip, ENTRY_TYPES.deviceKeyRotated, null, { ...data, newDeviceKey: newSigner.publicKey }, [newSigner]);
      this.insert(entry, null);
      frontier.push(Buffer.from(entry.hash, 'hex'));
      this.saveFrontier(frontier, entry);
      this.invalidate();
      this.deviceSigner = newSigner;
      return entry;
    })();
  }

  /** The last entry's seq and hash, or null before genesis. Cached between writes. */
  head(): JournalHead | null {
    return this.cachedTip().head;
  }

  /** The time of the last entry, or null before genesis (cached with the head). */
  lastEntryTime(): number | null {
    return this.cachedTip().time;
  }

  private cachedTip(): { head: JournalHead | null; time: number | null } {
    // data_version changes when another connection (the CLI beside the app) commits.
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (this.cachedHead !== null && this.cachedHead.version === version) return this.cachedHead;
    const tip = this.readTip();
    const cached = { head: tip === null ? null : { seq: tip.seq, hash: tip.hash }, time: tip?.time ?? null, version };
    // Inside an open transaction the row may still roll back: never cache what is not committed.
    if (!this.db.inTransaction) this.cachedHead = cached;
    return cached;
  }

  /** The vault id named by the genesis entry, or null before genesis. */
  vaultId(): string | null {
    const row = this.stmt('SELECT vault FROM journal_entries WHERE seq = 0').get() as { vault: string } | undefined;
    return row?.vault ?? null;
  }

  /** The public key that signs new entries: the genesis key, or the last rotation's new key. */
  currentDeviceKey(): string | null {
    const rotated = this.stmt(`SELECT data FROM journal_entries WHERE type = ? ORDER BY seq DESC LIMIT 1`).get(
      ENTRY_TYPES.deviceKeyRotated,
    ) as { data: string } | undefined;
    if (rotated) return (JSON.parse(rotated.data) as { newDeviceKey: string }).newDeviceKey;
    const genesis = this.stmt('SELECT device FROM journal_entries WHERE seq = 0').get() as { device: string } | undefined;
    return genesis?.device ?? null;
  }

  /** Entries with from <= seq <= to, in order, streamed row by row. */
  *read(range: { from?: number; to?: number } = {}): Iterable<SignedEntry> {
    const from = range.from ?? 0;
    const to = range.to ?? Number.MAX_SAFE_INTEGER;
    const rows = this.stmt('SELECT * FROM journal_entries WHERE seq >= ? AND seq <= ? ORDER BY seq').iterate(
      from,
      to,
    ) as IterableIterator<EntryRow>;
    for (const row of rows) yield entryFromRow(row);
  }

  /** Entries matching every given field, oldest first, at most `limit` (default and cap 10,000). */
  query(filter: JournalFilter): SignedEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const conditions: readonly [string, string | number | undefined][] = [
      ['seq > ?', filter.after],
      ['seq >= ?', filter.from],
      ['seq <= ?', filter.to],
      ['type = ?', filter.type],
      ['actor = ?', filter.actor],
      ['account = ?', filter.account],
      ['time >= ?', filter.since],
      ['time <= ?', filter.until],
    ];
    for (const [sql, value] of conditions) {
      if (value === undefined) continue;
      where.push(sql);
      args.push(value);
    }
    const limit = Math.min(filter.limit ?? MAX_LIMIT, MAX_LIMIT);
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new HalfkeyError('INVALID_PAYLOAD', 'limit must be a positive integer.', { field: 'limit' });
    const sql = `SELECT * FROM journal_entries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ?`;
    return (this.stmt(sql).all(...args, limit) as EntryRow[]).map(entryFromRow);
  }

  /** Stores a server receipt for one of this device's entries (the sync client calls this). */
  addReceipt(receipt: StoredReceipt): void {
    this.stmt(
      `INSERT INTO journal_receipts (device, seq, entry_hash, log_index, tree_head, inclusion_proof, server_key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING`,
    ).run(
      receipt.device,
      receipt.seq,
      receipt.entryHash,
      receipt.logIndex,
      canonicalize(receipt.treeHead),
      JSON.stringify(receipt.inclusionProof),
      receipt.serverKey,
      receipt.signature,
      this.now(),
    );
  }

  /**
   * Stores the receipts of one accepted batch as one row (the sync client calls this after
   * receiptBlockProblem accepted the block): receipts() derives each entry's receipt from it.
   */
  addReceiptBlock(block: ReceiptBlock, serverKey: string): void {
    if (block.entryHashes.length === 0 || block.entryHashes.some((h) => !/^[0-9a-f]{64}$/.test(h)))
      throw new HalfkeyError('INVALID_PAYLOAD', 'A receipt block holds one or more entry hashes of 64 lowercase hex characters.', {
        field: 'entryHashes',
      });
    const hashes = Buffer.alloc(32 * block.entryHashes.length);
    block.entryHashes.forEach((h, i) => hashes.write(h, 32 * i, 'hex'));
    this.stmt(
      `INSERT INTO journal_receipt_blocks (device, first_seq, count, log_start, tree_head, frontier, entry_hashes, server_key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, first_seq) DO NOTHING`,
    ).run(
      block.device,
      block.firstSeq,
      block.entryHashes.length,
      block.logStart,
      canonicalize(block.treeHead as unknown as JsonObject),
      JSON.stringify(block.frontier),
      hashes,
      serverKey,
      block.treeHead.signature,
      this.now(),
    );
  }

  /**
   * This journal's receipts with from <= seq <= to, in seq order, streamed: the rows of
   * journal_receipts and the receipts derived from journal_receipt_blocks, one per (device, seq)
   * (a row of journal_receipts first, then the block stored first).
   */
  *receipts(range: { from?: number; to?: number } = {}): Iterable<StoredReceipt> {
    const from = range.from ?? 0;
    const to = range.to ?? Number.MAX_SAFE_INTEGER;
    const rows = this.stmt('SELECT * FROM journal_receipts WHERE seq >= ? AND seq <= ? ORDER BY seq').iterate(
      from,
      to,
    ) as IterableIterator<ReceiptRow>;
    const derived = this.blockReceipts(from, to)[Symbol.iterator]();
    // Closed however the reading ends (a damaged block throws; a reader may stop early), so the
    // statement does not keep the connection busy.
    try {
      let next = derived.next();
      // Rows of journal_receipts with the seq being merged (a seq may have one per device).
      let sameSeq: StoredReceipt[] = [];
      const shadowed = (r: StoredReceipt): boolean => sameSeq.some((s) => s.seq === r.seq && s.device === r.device);
      for (const row of rows) {
        const receipt = receiptFromRow(row);
        for (; !next.done && next.value.seq < receipt.seq; next = derived.next()) if (!shadowed(next.value)) yield next.value;
        if (sameSeq.length > 0 && sameSeq[0]!.seq !== receipt.seq) sameSeq = [];
        sameSeq.push(receipt);
        yield receipt;
      }
      for (; !next.done; next = derived.next()) if (!shadowed(next.value)) yield next.value;
    } finally {
      rows.return?.();
      derived.return?.();
    }
  }

  /** The receipts derived from the blocks that overlap from..to, in seq order, one per (device, seq). */
  private *blockReceipts(from: number, to: number): Iterable<StoredReceipt> {
    const blocks = this.stmt(
      `SELECT rowid, * FROM journal_receipt_blocks WHERE first_seq <= ? AND first_seq + count - 1 >= ? ORDER BY first_seq, rowid`,
    ).all(to, from) as BlockRow[];
    // Seqs already given per device (blocks of one journal do not overlap; a crafted file might).
    const done = new Map<string, number>();
    for (const b of blocks) {
      const receipts = this.derivedBlock(b);
      const after = done.get(b.device) ?? -1;
      for (const r of receipts) if (r.seq >= from && r.seq <= to && r.seq > after) yield r;
      done.set(b.device, Math.max(after, b.first_seq + b.count - 1));
    }
  }

  /** One block's receipts; the last block derived is kept, since an export reads a block in two windows. */
  private derivedBlock(b: BlockRow): readonly StoredReceipt[] {
    if (this.lastBlock !== null && sameBlockRow(this.lastBlock.row, b)) return this.lastBlock.receipts;
    const hashes = Buffer.from(b.entry_hashes);
    const block: ReceiptBlock = {
      device: b.device,
      firstSeq: b.first_seq,
      logStart: b.log_start,
      treeHead: JSON.parse(b.tree_head) as TreeHead,
      frontier: JSON.parse(b.frontier) as string[],
      entryHashes: Array.from({ length: b.count }, (_, i) => hashes.toString('hex', 32 * i, 32 * i + 32)),
    };
    let derived: Receipt[];
    try {
      derived = receiptsOfBlock(block, sha256);
    } catch {
      throw new HalfkeyError(
        'JOURNAL_INVALID',
        `The stored server receipts for entries ${b.first_seq}..${b.first_seq + b.count - 1} are damaged (their log frontier does not have the shape its position implies).`,
      );
    }
    const receipts = derived.map((r): StoredReceipt => ({
      ...r,
      treeHead: block.treeHead as unknown as JsonObject,
      serverKey: b.server_key,
      signature: b.signature,
    }));
    this.lastBlock = { row: b, receipts };
    return receipts;
  }

  /** Number of entries (head seq + 1). */
  size(): number {
    const head = this.head();
    return head === null ? 0 : head.seq + 1;
  }

  private sign(tip: ChainTip, type: string, actor: string | null, data: JsonObject, coSigners: readonly EntrySigner[]): SignedEntry {
    return this.signNext(tip, type, actor, data, coSigners).entry;
  }

  /** The entry after `tip`, signed by the device key and any co-signers, with its hash as bytes (for the Merkle frontier). */
  private signNext(
    tip: ChainTip,
    type: string,
    actor: string | null,
    data: JsonObject,
    coSigners: readonly EntrySigner[],
  ): { entry: SignedEntry; digest: Uint8Array } {
    const entry: Mutable<SignedEntry> = {
      v: ENTRY_VERSION,
      vault: tip.vault,
      device: tip.device,
      seq: tip.seq + 1,
      prev: tip.hash,
      // Time never goes backwards along the chain, even if the wall clock does.
      time: Math.max(this.now(), tip.time),
      type,
      actor,
      data,
      hash: '',
      sigs: [],
    };
    const digest = this.seal(entry, coSigners.length === 0 ? [this.deviceSigner] : [this.deviceSigner, ...coSigners]);
    return { entry, digest };
  }

  private signBody(body: EntryBody, signers: readonly EntrySigner[]): SignedEntry {
    const entry: Mutable<SignedEntry> = { ...body, hash: '', sigs: [] };
    this.seal(entry, signers);
    return entry;
  }

  /**
   * Refuses an entry over MAX_ENTRY_BYTES, then signs it with sealEntry (shared/journal/entry.ts,
   * the one signing path) on node:crypto's SHA-256, handing it the canonical body encoded here for
   * the size check. Returns the hash as bytes, for the Merkle frontier.
   */
  private seal(entry: Mutable<SignedEntry>, signers: readonly EntrySigner[]): Uint8Array {
    const text = canonicalBodyText(entry);
    // A UTF-8 character is at most 3 bytes per UTF-16 unit: short texts skip the byte count.
    if (text.length * 3 > MAX_ENTRY_BYTES && Buffer.byteLength(text) > MAX_ENTRY_BYTES) {
      throw new HalfkeyError(
        'INVALID_PAYLOAD',
        `Journal entry #${entry.seq} (${entry.type}) would be ${Buffer.byteLength(text)} bytes; an entry holds at most ${MAX_ENTRY_BYTES} bytes of canonical JSON. Keep documents out of the journal and record a reference to them.`,
        { field: 'data' },
      );
    }
    return sealEntry(entry, signers, nativePrimitives.sha256Text, text);
  }

  private insert(entry: SignedEntry, account: string | null): void {
    this.insertRows([{ entry, account }]);
  }

  /** Inserts rows INSERT_CHUNK to a statement (one prepared statement per row count): less work per row for SQLite than a statement each. */
  private insertRows(rows: readonly PendingRow[]): void {
    for (let at = 0; at < rows.length; at += INSERT_CHUNK) {
      const chunk = rows.slice(at, at + INSERT_CHUNK);
      const params: unknown[] = [];
      for (const { entry: e, account } of chunk) {
        params.push(
          e.seq,
          e.v,
          e.vault,
          e.device,
          e.prev,
          e.time,
          e.type,
          e.actor,
          JSON.stringify(e.data),
          e.hash,
          JSON.stringify(e.sigs),
          account,
        );
      }
      this.stmt(insertSql(chunk.length)).run(...params);
    }
  }

  private readTip(): ChainTip | null {
    const row = this.stmt('SELECT seq, hash, time, vault, device FROM journal_entries ORDER BY seq DESC LIMIT 1').get() as
      Pick<EntryRow, 'seq' | 'hash' | 'time' | 'vault' | 'device'> | undefined;
    if (!row) return null;
    const lastCheckpoint = this.stmt('SELECT MAX(seq) AS seq FROM journal_entries WHERE type = ?').get(ENTRY_TYPES.checkpoint) as {
      seq: number | null;
    };
    // The genesis never changes once written, so its checkpoint interval is read once.
    if (this.genesisEvery === null) {
      const genesis = this.stmt('SELECT data FROM journal_entries WHERE seq = 0').get() as { data: string };
      const declared = (JSON.parse(genesis.data) as { checkpointEvery?: unknown }).checkpointEvery;
      this.genesisEvery = typeof declared === 'number' ? declared : CHECKPOINT_EVERY;
    }
    const every = this.genesisEvery;
    return {
      ...row,
      // Genesis counts as the first entry of the first run.
      sinceCheckpoint: row.seq - (lastCheckpoint.seq ?? -1),
      checkpointEvery: typeof every === 'number' ? every : CHECKPOINT_EVERY,
    };
  }

  private requireTip(): ChainTip {
    const tip = this.readTip();
    if (tip === null) throw new HalfkeyError('VAULT_NOT_INITIALISED', 'The journal has no genesis entry yet; create the vault first.');
    return tip;
  }

  /** Prepared once per connection (electron/base/database.ts): preparing costs more than running these small statements. */
  private stmt(sql: string) {
    return prepared(this.db, sql);
  }

  private loadFrontier(tip?: ChainTip): MerkleFrontier {
    // A cached frontier is valid only for the exact tip it was built for: after a rolled-back
    // append the tip is older than the cache, so the row in the database is read instead.
    // The caller mutates what it gets, so the cache gives it up until saveFrontier() hands it back.
    const cached = this.frontierCache;
    this.frontierCache = null;
    if (tip !== undefined && cached !== null && cached.seq === tip.seq && cached.hash === tip.hash) return cached.frontier;
    const row = this.stmt('SELECT size, nodes FROM journal_frontier WHERE id = 1').get() as { size: number; nodes: string } | undefined;
    if (!row) throw new HalfkeyError('JOURNAL_INVALID', 'The journal has entries but no Merkle frontier; the database was edited by hand.');
    return MerkleFrontier.restore(
      { size: row.size, nodes: JSON.parse(row.nodes) as { size: number; hash: string }[] },
      sodiumNow(),
      sha256,
    );
  }

  private saveFrontier(frontier: MerkleFrontier, tip?: { seq: number; hash: string }): void {
    this.frontierCache = tip === undefined ? null : { seq: tip.seq, hash: tip.hash, frontier };
    const snap = frontier.snapshot();
    this.stmt('UPDATE journal_frontier SET size = ?, nodes = ? WHERE id = 1').run(snap.size, JSON.stringify(snap.nodes));
  }

  private pushFrontier(hashes: readonly string[]): void {
    const frontier = this.loadFrontier();
    for (const h of hashes) frontier.push(Buffer.from(h, 'hex'));
    this.saveFrontier(frontier);
  }

  private invalidate(): void {
    this.cachedHead = null;
  }
}

function validateInput(input: AppendInput, index: number): void {
  const where = (field: string): { field: string } => ({ field: `inputs[${index}].${field}` });
  if (typeof input.type !== 'string' || !ENTRY_TYPE_PATTERN.test(input.type)) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `Journal entry type "${String(input.type).slice(0, 64)}" is not dotted lowercase words.`,
      where('type'),
    );
  }
  if (reservedTypes.has(input.type)) {
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `Journal entry type ${input.type} is written by the journal itself, not by append().`,
      where('type'),
    );
  }
  if (input.actor != null && (typeof input.actor.id !== 'string' || input.actor.id.length === 0)) {
    throw new HalfkeyError('INVALID_PAYLOAD', 'An actor needs a non-empty custodian id.', where('actor'));
  }
  // The central server copies these into its own columns and refuses control characters in them
  // (PostgreSQL cannot hold U+0000): an entry it refuses would hold up every later one.
  if (input.actor != null && UNSAFE_TEXT.test(input.actor.id)) {
    throw new HalfkeyError('INVALID_PAYLOAD', 'A custodian id must not contain control characters.', where('actor'));
  }
  if (input.account != null && (typeof input.account !== 'string' || input.account.length === 0)) {
    throw new HalfkeyError('INVALID_PAYLOAD', 'account must be a non-empty string.', where('account'));
  }
  if (input.account != null && input.data.account !== undefined && input.data.account !== input.account) {
    throw new HalfkeyError('INVALID_PAYLOAD', 'data.account and account disagree.', where('account'));
  }
  if (typeof input.data !== 'object' || input.data === null || Array.isArray(input.data))
    throw new HalfkeyError('INVALID_PAYLOAD', 'Entry data must be a JSON object.', where('data'));
  if (input.type === ENTRY_TYPES.custodianEnrolled) {
    for (const field of ['custodian', 'role'] as const) {
      const value = input.data[field];
      if (typeof value === 'string' && UNSAFE_TEXT.test(value))
        throw new HalfkeyError('INVALID_PAYLOAD', `data.${field} must not contain control characters.`, where(`data.${field}`));
    }
  }
}

const reservedTypes = new Set<string>([ENTRY_TYPES.genesis, ENTRY_TYPES.checkpoint, ENTRY_TYPES.deviceKeyRotated]);

function checkCanonical(data: JsonObject, detail: { field: string } = { field: 'data' }): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new HalfkeyError('INVALID_PAYLOAD', 'Entry data must be a JSON object.', detail);
  try {
    canonicalize(data);
  } catch (error) {
    if (error instanceof CanonicalEncodingError)
      throw new HalfkeyError('INVALID_PAYLOAD', `Entry data is not journal JSON: ${error.message}.`, detail);
    throw error;
  }
}

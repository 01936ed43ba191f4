import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Sodium } from '../shared/sodium';
import { checkpointCosignMessage, treeHeadSignatureMessage, type TreeHead } from '../shared/sync/receipt';
import { serverKeyFingerprint } from '../shared/sync/wire';
import { ServerConfigError } from './errors';
import type { Storage } from './storage/storage';

/** The server's Ed25519 identity: signs tree heads and cosigns checkpoints. The secret never leaves this object. */
export interface ServerSigner {
  readonly publicKey: string;
  readonly fingerprint: string;
  signTreeHead(head: { readonly size: number; readonly root: string; readonly timestamp: number }): TreeHead;
  cosignCheckpoint(entryHash: string): string;
}

export function serverSigner(secretKey: Uint8Array, sodium: Sodium): ServerSigner {
  const publicKey = sodium.to_hex(sodium.crypto_sign_ed25519_sk_to_pk(secretKey));
  return {
    publicKey,
    fingerprint: serverKeyFingerprint(publicKey, sodium),
    signTreeHead: (head) => ({
      size: head.size,
      root: head.root,
      timestamp: head.timestamp,
      signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(head, sodium), secretKey)),
    }),
    cosignCheckpoint: (entryHash) => sodium.to_hex(sodium.crypto_sign_detached(checkpointCosignMessage(entryHash, sodium), secretKey)),
  };
}

/** True when `signer`'s key made the head's signature: Ed25519 is deterministic, so signing it again reproduces it exactly. */
export function signedBy(signer: ServerSigner, head: TreeHead): boolean {
  return signer.signTreeHead(head).signature === head.signature;
}

/**
 * A new tree head's timestamp: never before the latest stored head's, whatever this host's clock
 * says, so the log's heads never go back in time (the one rule every head the server signs follows).
 */
export function headTimestamp(now: number, latest: Pick<TreeHead, 'timestamp'> | null): number {
  return Math.max(now, latest?.timestamp ?? 0);
}

/**
 * `stored` under `signer`'s key: itself when that key signed it, else the same size and root
 * signed now (see headTimestamp). Nothing is stored.
 */
export function underKey(signer: ServerSigner, stored: TreeHead, now: number): TreeHead {
  if (signedBy(signer, stored)) return stored;
  return signer.signTreeHead({ size: stored.size, root: stored.root, timestamp: headTimestamp(now, stored) });
}

/** Heads re-signed in memory are remembered by the stored signature, up to this many. */
const RESIGNED_CACHE = 256;

/** The log's heads as this process serves them: always under the key it holds now. */
export interface CurrentKeyHeads {
  /** The latest head under this key; a read, it never writes storage. */
  latest(): Promise<TreeHead | null>;
  /** A stored head (of any size) under this key: the same answer for the same stored head. */
  underThisKey(stored: TreeHead): TreeHead;
  /**
   * At start, before the first request: stores the latest head under this key in place of another
   * key's (after a key rotation). The replaced head stays in `tree_head_signatures`.
   */
  storeAtStart(): Promise<void>;
}

/**
 * After a key rotation the stored heads are the old key's until the next append signs one. Once,
 * at start, under the log lock, the latest is re-signed under the current key and stored (its old
 * signature kept as evidence); requests only ever re-sign in memory. A request path that wrote
 * would let an old-key and a new-key process on one database overwrite each other's head on every
 * read; when the stored head is under another key, another process still holds it and one warning
 * says so (docs/operations.md: stop every process on the old key).
 */
export function currentKeyHeads(
  storage: Storage,
  signer: ServerSigner,
  now: () => number,
  warn: (message: string) => void,
): CurrentKeyHeads {
  let confirmed = '';
  let warned = false;
  const resigned = new Map<string, TreeHead>();
  const underThisKey = (stored: TreeHead): TreeHead => {
    if (stored.signature === confirmed) return stored;
    const known = resigned.get(stored.signature);
    if (known !== undefined) return known;
    const head = underKey(signer, stored, now());
    if (head === stored) {
      confirmed = stored.signature;
      return stored;
    }
    if (resigned.size >= RESIGNED_CACHE) resigned.clear();
    resigned.set(stored.signature, head);
    return head;
  };
  return {
    underThisKey,
    latest: async () => {
      const stored = await storage.queries.latestTreeHead();
      if (stored === null) return null;
      const head = underThisKey(stored);
      if (head !== stored && !warned) {
        warned = true;
        warn(
          `the log's latest tree head (size ${stored.size}) is signed by another server key: a process with another key file shares this database. Stop every process on the old key (docs/operations.md, key rotation)`,
        );
      }
      return head;
    },
    storeAtStart: () =>
      storage.transaction(
        async (tx) => {
          const latest = await tx.latestTreeHead();
          if (latest === null || signedBy(signer, latest)) return;
          const head = underKey(signer, latest, now());
          // Under the log lock no other process changes the row in between; should a writer that
          // takes no lock have replaced it, requests still re-sign in memory.
          if (await tx.replaceTreeHead(latest, head)) confirmed = head.signature;
        },
        { log: true },
      ),
  };
}

const fileProblem = (error: unknown): string => {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : 'unreadable';
};

/**
 * Reads the server key file (the 64-byte libsodium secret key as hex). A missing, unreadable or
 * malformed file is a ServerConfigError naming the path; the key itself is never in a message.
 */
export function loadServerKey(path: string, sodium: Sodium): Uint8Array {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new ServerConfigError(
        `--key-file ${path} does not exist. Make it once with \`halfkey server keygen --key-file ${path}\` and give every server process the same file (or fix the path)`,
      );
    }
    throw new ServerConfigError(`--key-file ${path} cannot be read (${fileProblem(error)})`);
  }
  if (!/^[0-9a-f]{128}$/.test(text))
    throw new ServerConfigError(`--key-file ${path} does not hold a server key (a 64-byte Ed25519 secret key as 128 hex digits)`);
  return sodium.from_hex(text);
}

/** Writes a new server key to path with mode 0600; never replaces an existing file. */
export function createServerKey(path: string, sodium: Sodium): Uint8Array {
  const pair = sodium.crypto_sign_keypair();
  try {
    writeFileSync(path, `${sodium.to_hex(pair.privateKey)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (error) {
    sodium.memzero(pair.privateKey);
    const code = fileProblem(error);
    if (code === 'EEXIST')
      throw new ServerConfigError(
        `--key-file ${path} already exists: a server key is never overwritten (move the old one away first to replace it)`,
      );
    throw new ServerConfigError(`--key-file ${path} cannot be created (${code === 'ENOENT' ? 'its folder does not exist' : code})`);
  }
  return pair.privateKey;
}

/**
 * The SQLite single node's key: read from path, or made there on first start. Several processes
 * on PostgreSQL must share one file, so they only ever load it (loadServerKey).
 */
export function loadOrCreateServerKey(path: string, sodium: Sodium): Uint8Array {
  return existsSync(path) ? loadServerKey(path, sodium) : createServerKey(path, sodium);
}

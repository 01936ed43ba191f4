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
 * A reader of the log's latest tree head that always answers under the key the server holds now.
 * After a key rotation the stored head is the old key's until the next append signs one; the
 * reader then signs the same size and root under the current key (a fresh timestamp) and stores
 * it in place of the old key's head, so the log head, every device's head and the consistency
 * proofs verify under the new key and show the log unchanged across the rotation. It does so
 * under the log lock: processes starting together on one PostgreSQL re-sign once, the rest find
 * that head. A head once confirmed is remembered, so an unchanged head costs no signing.
 */
export function currentKeyTreeHead(storage: Storage, signer: ServerSigner, now: () => number): () => Promise<TreeHead | null> {
  let confirmed = '';
  const underThisKey = (head: TreeHead): boolean => {
    if (head.signature === confirmed) return true;
    if (!signedBy(signer, head)) return false;
    confirmed = head.signature;
    return true;
  };
  return async () => {
    const stored = await storage.queries.latestTreeHead();
    if (stored === null || underThisKey(stored)) return stored;
    return storage.transaction(
      async (tx) => {
        const latest = await tx.latestTreeHead();
        if (latest === null || underThisKey(latest)) return latest;
        // Never older than the head it replaces, whatever this host's clock says.
        const head = signer.signTreeHead({ size: latest.size, root: latest.root, timestamp: Math.max(now(), latest.timestamp) });
        // Under the log lock no other process changes the row in between; the check in the
        // UPDATE only makes sure a head is never replaced unseen.
        if (!(await tx.replaceTreeHead(latest, head))) throw new Error(`the tree head of size ${latest.size} changed while it was being re-signed`);
        confirmed = head.signature;
        return head;
      },
      { log: true },
    );
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
      throw new ServerConfigError(`--key-file ${path} does not exist. Make it once with \`halfkey server keygen --key-file ${path}\` and give every server process the same file (or fix the path)`);
    }
    throw new ServerConfigError(`--key-file ${path} cannot be read (${fileProblem(error)})`);
  }
  if (!/^[0-9a-f]{128}$/.test(text)) throw new ServerConfigError(`--key-file ${path} does not hold a server key (a 64-byte Ed25519 secret key as 128 hex digits)`);
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
    if (code === 'EEXIST') throw new ServerConfigError(`--key-file ${path} already exists: a server key is never overwritten (move the old one away first to replace it)`);
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

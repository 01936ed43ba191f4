import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Sodium } from '../shared/sodium';
import { checkpointCosignMessage, treeHeadSignatureMessage, type TreeHead } from '../shared/sync/receipt';
import { serverKeyFingerprint } from '../shared/sync/wire';

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

/**
 * Reads the server key file (the 64-byte libsodium secret key as hex), creating it with mode
 * 0600 when missing. Several processes behind a load balancer must share the same file.
 */
export function loadOrCreateServerKey(path: string, sodium: Sodium): Uint8Array {
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{128}$/.test(text)) throw new Error(`server key file ${path} does not hold a 64-byte hex Ed25519 secret key`);
    return sodium.from_hex(text);
  }
  const pair = sodium.crypto_sign_keypair();
  writeFileSync(path, `${sodium.to_hex(pair.privateKey)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return pair.privateKey;
}

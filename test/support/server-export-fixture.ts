import { canonicalize } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import { appendedLeafProofs } from '../../shared/journal/merkle';
import type { Sodium } from '../../shared/sodium';
import { treeHeadSignatureMessage } from '../../shared/sync/receipt';

/**
 * The org-wide export a server with this key would produce for a log: the header, then one
 * entry + receipt line per entry (every receipt under the same signed head), each canonical JSON,
 * as the server writes them. Proofs come from the server's own batch-proof code.
 */
export function exportLinesOf(
  log: readonly SignedEntry[],
  server: { publicKey: Uint8Array; privateKey: Uint8Array },
  sodium: Sodium,
): string[] {
  const leaves = log.map((e) => sodium.from_hex(e.hash));
  const { root, proofs } = appendedLeafProofs(0, [], leaves, sodium);
  const unsigned = { size: log.length, root: sodium.to_hex(root), timestamp: 1_700_000_100_000 };
  const treeHead = {
    ...unsigned,
    signature: sodium.to_hex(sodium.crypto_sign_detached(treeHeadSignatureMessage(unsigned, sodium), server.privateKey)),
  };
  const rows = log.map(({ device, seq, hash: entryHash, ...rest }, logIndex) => {
    const inclusionProof = proofs[logIndex]!.map((p) => sodium.to_hex(p));
    return canonicalize({
      kind: 'entry',
      entry: { device, seq, hash: entryHash, ...rest },
      receipt: { device, seq, entryHash, logIndex, treeHead, inclusionProof },
    });
  });
  const serverKey = sodium.to_hex(server.publicKey);
  return [canonicalize({ kind: 'header', format: 'halfkey-server-export', version: 1, serverKey, treeHead }), ...rows];
}

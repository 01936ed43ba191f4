import {
  MerkleFrontier,
  consistencyRanges,
  foldSubtrees,
  inclusionRanges,
  leafHash,
  perfectSubtrees,
  type LeafRange,
  type NodeObserver,
} from '../shared/journal/merkle';
import { nativePrimitives } from './native-primitives';
import type { LogNode } from './storage/storage';

/**
 * The org-wide RFC 6962 log kept as perfect subtree roots ("nodes"): level 0 holds leaf hashes,
 * level l the root of the 2^l leaves starting at index·2^l. Every node is written once and never
 * changes, so any range root, inclusion proof or consistency proof needs O(log² n) node reads,
 * never a pass over the leaves. Only the interior nodes (level 1 and up) are stored: a leaf is
 * SHA-256(0x00 || entry hash), computed from the entry stored at its log index when it is read,
 * which halves the rows each accepted entry writes.
 *
 * This file is only the storage side: which nodes a proof or an append needs, reading them in one
 * round trip, and which new ones to write. The hashing, the folds, the shapes of the proofs and
 * the incremental append are shared/journal/merkle.ts, the same code the device journal and the
 * sync client run, on node:crypto's SHA-256 (nativePrimitives). Nodes come in and go out as hex,
 * as stored and as sent; NodeSet turns them into bytes only to hash them.
 */

const sha256 = nativePrimitives.sha256;
const bytesOf = (hex: string): Uint8Array => Buffer.from(hex, 'hex');
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** Storage key of a node: index·64 + level (levels stay below 64; indexes below 2^47). */
export const nodeKey = (level: number, index: number): number => index * 64 + level;
/** Storage key of the perfect subtree of `width` leaves from leaf `first`. */
const subtreeKey = (first: number, width: number): number => nodeKey(Math.log2(width), first / width);

const HEX64 = /^[0-9a-f]{64}$/;
/** One buffer for the entry hash a leaf is made from: hashing a leaf copies it, so it is free again at once. */
const entryHashInput = Buffer.alloc(32);
/** The bytes of an entry hash as stored (64 lowercase hex digits), valid until the next call: for leafHash or MerkleFrontier.push only. */
function entryHashBytes(entryHashHex: string): Uint8Array {
  if (!HEX64.test(entryHashHex)) throw new Error(`entry hash ${entryHashHex.slice(0, 16)}… is not 64 lowercase hex digits`);
  entryHashInput.write(entryHashHex, 0, 32, 'hex');
  return entryHashInput;
}

/** Where nodes come from: the database, answering a whole set of keys in one round trip. */
export interface NodeSource {
  /** Stored interior nodes (level ≥ 1) by key; keys not stored are left out. */
  getLogNodes(keys: readonly number[]): Promise<Map<number, string>>;
  /** Hashes of the entries at these log indexes (the leaves' data); indexes not in the log are left out. */
  entryHashesAt(logIndexes: readonly number[]): Promise<Map<number, string>>;
}

/** Storage keys of the perfect subtrees covering leaves [start, end), left to right (perfectSubtrees). */
export function rangeNodeKeys(start: number, end: number): number[] {
  return perfectSubtrees(start, end).map(([first, width]) => subtreeKey(first, width));
}

/**
 * A node cache for one request: nodes computed in memory plus those read from the source. A node
 * is kept as it arrived (hex from storage, bytes from hashing) and converted once, when first
 * needed the other way: hex for a proof or for storage, bytes for hashing.
 */
export class NodeSet {
  private readonly hexes = new Map<number, string>();
  private readonly bytes = new Map<number, Uint8Array>();
  /** Range roots already folded: neighbouring leaves share most of their audit paths. */
  private readonly roots = new Map<string, string>();

  constructor(private readonly source: NodeSource) {}

  /** A node made here, as bytes (and as hex too when the caller has that already). */
  addBytes(key: number, hash: Uint8Array, hex?: string): void {
    this.bytes.set(key, hash);
    if (hex === undefined) this.hexes.delete(key);
    else this.hexes.set(key, hex);
    // A new node can complete ranges folded before it was known only if they were missing it,
    // and a fold never succeeds with a missing node, so cached roots stay valid.
  }

  private has(key: number): boolean {
    return this.hexes.has(key) || this.bytes.has(key);
  }

  /** Fetches every key not yet known: interior nodes in one call to the source, leaves from their entries' hashes in another. */
  async load(keys: readonly number[]): Promise<void> {
    const interior: number[] = [];
    const leaves: number[] = [];
    for (const k of new Set(keys)) {
      if (this.has(k)) continue;
      if (k % 64 === 0) leaves.push(k / 64);
      else interior.push(k);
    }
    if (interior.length > 0) for (const [k, h] of await this.source.getLogNodes(interior)) this.hexes.set(k, h);
    if (leaves.length > 0)
      for (const [index, h] of await this.source.entryHashesAt(leaves))
        this.bytes.set(nodeKey(0, index), leafHash(entryHashBytes(h), sha256));
  }

  /** A node as hex (as stored and as sent). */
  get(key: number): string {
    let hex = this.hexes.get(key);
    if (hex === undefined) {
      hex = hexOf(this.nodeBytes(key));
      this.hexes.set(key, hex);
    }
    return hex;
  }

  /** A node as bytes, for hashing. */
  private nodeBytes(key: number): Uint8Array {
    let bytes = this.bytes.get(key);
    if (bytes === undefined) {
      const hex = this.hexes.get(key);
      if (hex === undefined) throw new Error(`log node ${Math.floor(key / 64)} at level ${key % 64} is missing from storage`);
      bytes = bytesOf(hex);
      this.bytes.set(key, bytes);
    }
    return bytes;
  }

  /** Root of leaves [start, end) (the whole log or a range a proof names): the fold of its stored perfect subtrees. */
  rangeRoot(start: number, end: number): string {
    const keys = rangeNodeKeys(start, end);
    if (keys.length === 1) return this.get(keys[0]!);
    const id = `${start}:${end}`;
    let root = this.roots.get(id);
    if (root === undefined) {
      root = hexOf(
        foldSubtrees(
          keys.map((k) => this.nodeBytes(k)),
          sha256,
        ),
      );
      this.roots.set(id, root);
    }
    return root;
  }

  /** The frontier of the first `size` leaves as bytes (a MerkleFrontier resumes from it). */
  frontier(size: number): Uint8Array[] {
    return rangeNodeKeys(0, size).map((k) => this.nodeBytes(k));
  }

  /** Loads what the ranges need, then returns their roots in order. */
  async rangeRoots(ranges: readonly LeafRange[]): Promise<string[]> {
    await this.load(ranges.flatMap(([s, e]) => rangeNodeKeys(s, e)));
    return ranges.map(([s, e]) => this.rangeRoot(s, e));
  }
}

/**
 * Appends entry hashes after `size` leaves: returns the new interior nodes to store (the leaves
 * are the entries themselves, stored by the caller at log indexes size, size + 1, …) and the new
 * root. Only the current frontier (≤ log2 n nodes) is read; the shared MerkleFrontier, resumed
 * from it, makes every node the appends complete.
 */
export async function appendLeaves(
  size: number,
  entryHashes: readonly string[],
  nodes: NodeSet,
): Promise<{ nodes: LogNode[]; root: string; size: number }> {
  await nodes.load(rangeNodeKeys(0, size));
  const frontier = MerkleFrontier.fromSubtrees(size, nodes.frontier(size), sha256);
  const created: LogNode[] = [];
  const keep: NodeObserver = (first, width, hash) => {
    const key = subtreeKey(first, width);
    // Leaves are not stored: they come back from the entries' hashes (NodeSet.load).
    if (width === 1) return nodes.addBytes(key, hash);
    const hex = hexOf(hash);
    nodes.addBytes(key, hash, hex);
    created.push({ key, hash: hex });
  };
  for (const h of entryHashes) frontier.push(entryHashBytes(h), keep);
  return { nodes: created, root: hexOf(frontier.root()), size: frontier.size };
}

/** Audit paths of several leaves in the tree of `size` leaves, with one storage read for all of them. */
export async function inclusionProofs(indices: readonly number[], size: number, nodes: NodeSet): Promise<Map<number, string[]>> {
  const perLeaf = indices.map((i) => [i, inclusionRanges(i, size)] as const);
  // Neighbouring leaves share most ranges: each distinct range is expanded to node keys once.
  const distinct = new Map<string, LeafRange>();
  for (const [, ranges] of perLeaf) for (const r of ranges) distinct.set(`${r[0]}:${r[1]}`, r);
  await nodes.load([...distinct.values()].flatMap(([s, e]) => rangeNodeKeys(s, e)));
  return new Map(perLeaf.map(([i, ranges]) => [i, ranges.map(([s, e]) => nodes.rangeRoot(s, e))]));
}

/** Consistency proof from the tree of `from` leaves to the tree of `to` leaves (1 ≤ from ≤ to). */
export async function consistencyProofOf(from: number, to: number, nodes: NodeSet): Promise<string[]> {
  return nodes.rangeRoots(consistencyRanges(from, to));
}

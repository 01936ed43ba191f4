import { hash } from 'node:crypto';
import { perfectSubtrees } from '../shared/journal/merkle';
import type { LogNode } from './storage/storage';

/**
 * The org-wide RFC 6962 log kept as perfect subtree roots ("nodes"): level 0 holds leaf hashes,
 * level l the root of the 2^l leaves starting at index·2^l. Every node is written once and never
 * changes, so any range root, inclusion proof or consistency proof needs O(log² n) node reads,
 * never a pass over the leaves.
 */

/** Storage key of a node: index·64 + level (levels stay below 64; indexes below 2^47). */
export const nodeKey = (level: number, index: number): number => index * 64 + level;

// RFC 6962 hashing on node:crypto (the same SHA-256 as libsodium's, without wasm copies).
/**
 * RFC 6962 hashing into one reusable input buffer instead of a concatenation per hash:
 * 0x00 || entry hash for a leaf, 0x01 || left || right for a parent.
 */
const scratch = Buffer.alloc(65);
function leafOf(entryHashHex: string): Buffer {
  scratch[0] = 0;
  if (entryHashHex.length !== 64 || scratch.write(entryHashHex, 1, 32, 'hex') !== 32) throw new Error(`entry hash ${entryHashHex.slice(0, 16)}… is not 64 hex digits`);
  return hash('sha256', scratch.subarray(0, 33), 'buffer');
}
function parentOf(left: Buffer, right: Buffer): Buffer {
  scratch[0] = 1;
  left.copy(scratch, 1);
  right.copy(scratch, 33);
  return hash('sha256', scratch, 'buffer');
}

/** Where nodes come from: the database, answering a whole set of keys in one round trip. */
export interface NodeSource {
  getLogNodes(keys: readonly number[]): Promise<Map<number, string>>;
}

/** Storage keys of the perfect subtrees covering leaves [start, end), left to right (perfectSubtrees). */
export function rangeNodeKeys(start: number, end: number): number[] {
  return perfectSubtrees(start, end).map(([first, width]) => nodeKey(Math.log2(width), first / width));
}

const largestPowerBelow = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

type Range = readonly [start: number, end: number];

/** Ranges whose roots make the audit path of leaf m in the tree [start, end) (RFC 6962 2.1.1). */
function inclusionRanges(m: number, start: number, end: number): Range[] {
  // Top-down, then reversed: the audit path lists the sibling nearest the leaf first.
  const ranges: Range[] = [];
  while (end - start > 1) {
    const k = largestPowerBelow(end - start);
    if (m < start + k) {
      ranges.push([start + k, end]);
      end = start + k;
    } else {
      ranges.push([start, start + k]);
      start += k;
    }
  }
  return ranges.reverse();
}

/** Ranges whose roots make the consistency proof from `m` leaves to the tree [start, end) (RFC 6962 2.1.2). */
function consistencyRanges(m: number, start: number, end: number, complete: boolean): Range[] {
  const n = end - start;
  if (m === n) return complete ? [] : [[start, end]];
  const k = largestPowerBelow(n);
  return m <= k
    ? [...consistencyRanges(m, start, start + k, complete), [start + k, end]]
    : [...consistencyRanges(m - k, start + k, end, false), [start, start + k]];
}

/** A node cache for one request: nodes computed in memory plus those read from the source. */
export class NodeSet {
  private readonly known = new Map<number, string>();
  /** Range roots already folded: neighbouring leaves share most of their audit paths. */
  private readonly roots = new Map<string, string>();

  constructor(private readonly source: NodeSource) {}

  add(key: number, hash: string): void {
    this.known.set(key, hash);
    // A new node can complete ranges folded before it was known only if they were missing it,
    // and a fold never succeeds with a missing node, so cached roots stay valid.
  }

  /** Fetches every key not yet known, in one call to the source. */
  async load(keys: readonly number[]): Promise<void> {
    const missing = [...new Set(keys.filter((k) => !this.known.has(k)))];
    if (missing.length === 0) return;
    for (const [k, h] of await this.source.getLogNodes(missing)) this.known.set(k, h);
  }

  get(key: number): string {
    const hash = this.known.get(key);
    if (hash === undefined) throw new Error(`log node ${Math.floor(key / 64)} at level ${key % 64} is missing from storage`);
    return hash;
  }

  /** Root of leaves [start, end): the right fold of its perfect subtrees. */
  rangeRoot(start: number, end: number): string {
    const keys = rangeNodeKeys(start, end);
    if (keys.length === 1) return this.get(keys[0]!);
    const id = `${start}:${end}`;
    const cached = this.roots.get(id);
    if (cached !== undefined) return cached;
    let acc: Buffer = Buffer.from(this.get(keys[keys.length - 1]!), 'hex');
    for (let i = keys.length - 2; i >= 0; i--) acc = parentOf(Buffer.from(this.get(keys[i]!), 'hex'), acc);
    const root = acc.toString('hex');
    this.roots.set(id, root);
    return root;
  }

  /** Loads what the ranges need, then returns their roots in order. */
  async rangeRoots(ranges: readonly Range[]): Promise<string[]> {
    await this.load(ranges.flatMap(([s, e]) => rangeNodeKeys(s, e)));
    return ranges.map(([s, e]) => this.rangeRoot(s, e));
  }
}

/** Root hash of the empty log: SHA-256 of nothing. */
export const emptyRoot = (): string => hash('sha256', Buffer.alloc(0), 'hex');

/**
 * Appends entry hashes after `size` leaves: returns the new nodes to store and the new root.
 * Only the current frontier (≤ log2 n nodes) is read.
 */
export async function appendLeaves(size: number, entryHashes: readonly string[], nodes: NodeSet): Promise<{ nodes: LogNode[]; root: string; size: number }> {
  await nodes.load(rangeNodeKeys(0, size));
  const created: LogNode[] = [];
  const put = (key: number, hash: string): void => {
    nodes.add(key, hash);
    created.push({ key, hash });
  };
  // Bytes of the nodes made here, so a left sibling made earlier in the batch is not decoded again.
  const made = new Map<number, Buffer>();
  const bytesOf = (key: number): Buffer => made.get(key) ?? Buffer.from(nodes.get(key), 'hex');
  for (let offset = 0; offset < entryHashes.length; offset++) {
    const index = size + offset;
    let node = leafOf(entryHashes[offset]!);
    let key = nodeKey(0, index);
    put(key, node.toString('hex'));
    // Each completed pair of equal subtrees makes their parent, up the tree.
    for (let level = 1, width = 2; (index + 1) % width === 0; level++, width *= 2) {
      const parentIndex = (index + 1) / width - 1;
      // The left sibling is never needed again once its parent exists.
      const leftKey = nodeKey(level - 1, parentIndex * 2);
      node = parentOf(bytesOf(leftKey), node);
      made.delete(leftKey);
      key = nodeKey(level, parentIndex);
      put(key, node.toString('hex'));
    }
    made.set(key, node);
  }
  const newSize = size + entryHashes.length;
  return { nodes: created, root: newSize === 0 ? emptyRoot() : nodes.rangeRoot(0, newSize), size: newSize };
}

/** Audit paths of several leaves in the tree of `size` leaves, with one storage read for all of them. */
export async function inclusionProofs(indices: readonly number[], size: number, nodes: NodeSet): Promise<Map<number, string[]>> {
  const perLeaf = indices.map((i) => [i, inclusionRanges(i, 0, size)] as const);
  // Neighbouring leaves share most ranges: each distinct range is expanded to node keys once.
  const distinct = new Map<string, Range>();
  for (const [, ranges] of perLeaf) for (const r of ranges) distinct.set(`${r[0]}:${r[1]}`, r);
  await nodes.load([...distinct.values()].flatMap(([s, e]) => rangeNodeKeys(s, e)));
  return new Map(perLeaf.map(([i, ranges]) => [i, ranges.map(([s, e]) => nodes.rangeRoot(s, e))]));
}

/** Consistency proof from the tree of `from` leaves to the tree of `to` leaves (1 ≤ from ≤ to). */
export async function consistencyProofOf(from: number, to: number, nodes: NodeSet): Promise<string[]> {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || from > to) throw new RangeError(`consistency needs 1 ≤ from ≤ to, got ${from}..${to}`);
  return nodes.rangeRoots(consistencyRanges(from, 0, to, true));
}

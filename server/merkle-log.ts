import { hash } from 'node:crypto';
import { perfectSubtrees } from '../shared/journal/merkle';
import type { LogNode } from './storage/storage';

/**
 * The org-wide RFC 6962 log kept as perfect subtree roots ("nodes"): level 0 holds leaf hashes,
 * level l the root of the 2^l leaves starting at index·2^l. Every node is written once and never
 * changes, so any range root, inclusion proof or consistency proof needs O(log² n) node reads,
 * never a pass over the leaves. Only the interior nodes (level 1 and up) are stored: a leaf is
 * SHA-256(0x00 || entry hash), computed from the entry stored at its log index when it is read,
 * which halves the rows each accepted entry writes.
 */

/** Storage key of a node: index·64 + level (levels stay below 64; indexes below 2^47). */
export const nodeKey = (level: number, index: number): number => index * 64 + level;

/**
 * RFC 6962 hashing on node:crypto (the same SHA-256 as libsodium's, without wasm copies), hex in
 * and hex out: the input goes into one reusable buffer (0x00 || entry hash for a leaf,
 * 0x01 || left || right for a parent) and the digest comes back as the hex text the log stores,
 * so no Buffer is allocated per hash.
 */
const scratch = Buffer.alloc(65);
const leafInput = scratch.subarray(0, 33);
const HEX64 = /^[0-9a-f]{64}$/;
function leafOf(entryHashHex: string): string {
  if (!HEX64.test(entryHashHex)) throw new Error(`entry hash ${entryHashHex.slice(0, 16)}… is not 64 lowercase hex digits`);
  scratch[0] = 0;
  scratch.write(entryHashHex, 1, 32, 'hex');
  return hash('sha256', leafInput, 'hex');
}
/** Parent of two node hashes, both read from storage or made here (always 64 lowercase hex digits). */
function parentOf(left: string, right: string): string {
  scratch[0] = 1;
  scratch.write(left, 1, 32, 'hex');
  scratch.write(right, 33, 32, 'hex');
  return hash('sha256', scratch, 'hex');
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

  /** Fetches every key not yet known: interior nodes in one call to the source, leaves from their entries' hashes in another. */
  async load(keys: readonly number[]): Promise<void> {
    const interior: number[] = [];
    const leaves: number[] = [];
    for (const k of new Set(keys)) {
      if (this.known.has(k)) continue;
      if (k % 64 === 0) leaves.push(k / 64);
      else interior.push(k);
    }
    if (interior.length > 0) for (const [k, h] of await this.source.getLogNodes(interior)) this.known.set(k, h);
    if (leaves.length > 0) for (const [index, h] of await this.source.entryHashesAt(leaves)) this.known.set(nodeKey(0, index), leafOf(h));
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
    let root = this.get(keys[keys.length - 1]!);
    for (let i = keys.length - 2; i >= 0; i--) root = parentOf(this.get(keys[i]!), root);
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
 * Appends entry hashes after `size` leaves: returns the new interior nodes to store (the leaves
 * are the entries themselves, stored by the caller at log indexes size, size + 1, …) and the new
 * root. Only the current frontier (≤ log2 n nodes) is read.
 */
export async function appendLeaves(size: number, entryHashes: readonly string[], nodes: NodeSet): Promise<{ nodes: LogNode[]; root: string; size: number }> {
  await nodes.load(rangeNodeKeys(0, size));
  const created: LogNode[] = [];
  const put = (key: number, hash: string): void => {
    nodes.add(key, hash);
    created.push({ key, hash });
  };
  for (let offset = 0; offset < entryHashes.length; offset++) {
    const index = size + offset;
    let node = leafOf(entryHashes[offset]!);
    nodes.add(nodeKey(0, index), node);
    // Each completed pair of equal subtrees makes their parent, up the tree.
    for (let level = 1, width = 2; (index + 1) % width === 0; level++, width *= 2) {
      const parentIndex = (index + 1) / width - 1;
      node = parentOf(nodes.get(nodeKey(level - 1, parentIndex * 2)), node);
      put(nodeKey(level, parentIndex), node);
    }
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

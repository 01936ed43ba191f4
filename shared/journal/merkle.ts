import { sodiumNow, type Sodium } from '../sodium';
import { bytesToHex, hexToBytes } from './hex';

/**
 * RFC 6962 Merkle tree over entry hashes (section 2.1): leaf = SHA-256(0x00 || entryHash),
 * node = SHA-256(0x01 || left || right), the split at the largest power of two below n.
 *
 * The one implementation of that tree: the device journal (store, chain verifier, bundles), the
 * sync client and the server's org-wide log (server/merkle-log.ts, which adds only storage: the
 * nodes it keeps and reads) all hash, fold and prove with the functions here. Only SHA-256 itself
 * varies: each function takes the hash to use (`TreeHashing`), libsodium's by default, node:crypto's
 * where the Node side injects it (the same digests without wasm calls; test/unit/journal-merkle.test.ts
 * checks both give the same trees and proofs).
 */

/** A SHA-256 returning a fresh array; callers outside shared/ may inject a native one (same digests, less overhead than wasm). */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** What a tree is hashed with: an injected SHA-256, or libsodium (its crypto_hash_sha256). */
export type TreeHashing = Sha256 | Sodium;

/** The SHA-256 a `TreeHashing` names; libsodium's when none is given. */
export function sha256Of(hashing: TreeHashing = sodiumNow()): Sha256 {
  return typeof hashing === 'function' ? hashing : (data) => hashing.crypto_hash_sha256(data);
}

/** A run of leaves [start, end) of a tree. */
export type LeafRange = readonly [start: number, end: number];

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/**
 * One input buffer for every leaf and node hash of 32-byte inputs: 0x00 || entry hash (33 bytes)
 * or 0x01 || left || right (65 bytes). A Sha256 returns a fresh array and keeps nothing of its
 * input, so the buffer is free again as soon as it returns.
 */
const scratch = new Uint8Array(65);
const leafInput = scratch.subarray(0, 33);

function leaf(sha256: Sha256, entryHash: Uint8Array): Uint8Array {
  if (entryHash.length !== 32) return sha256(concat(Uint8Array.of(0), entryHash));
  scratch[0] = 0;
  scratch.set(entryHash, 1);
  return sha256(leafInput);
}

function node(sha256: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.length !== 32 || right.length !== 32) return sha256(concat(Uint8Array.of(1), left, right));
  scratch[0] = 1;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return sha256(scratch);
}

/** The leaf hash of an entry hash: SHA-256(0x00 || entryHash). */
export function leafHash(entryHash: Uint8Array, hashing?: TreeHashing): Uint8Array {
  return leaf(sha256Of(hashing), entryHash);
}

/** The hash of an interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array, hashing?: TreeHashing): Uint8Array {
  return node(sha256Of(hashing), left, right);
}

/** The root of the empty tree: SHA-256 of nothing. */
export function emptyRoot(hashing?: TreeHashing): Uint8Array {
  return sha256Of(hashing)(new Uint8Array(0));
}

/**
 * The perfect subtrees covering leaves [start, end), left to right, each as large as its
 * alignment allows, as [first leaf, width] pairs. For [0, n) these are the tree's frontier: one
 * per set bit of n, largest first.
 */
export function perfectSubtrees(start: number, end: number): [first: number, width: number][] {
  const out: [number, number][] = [];
  let at = start;
  while (at < end) {
    let width = 1;
    while (at % (width * 2) === 0 && at + width * 2 <= end) width *= 2;
    out.push([at, width]);
    at += width;
  }
  return out;
}

/** Largest power of two strictly less than n (n >= 2): where RFC 6962 splits a tree of n leaves. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The root of a run of leaves from the roots of the perfect subtrees that cover it, left to right
 * (perfectSubtrees): RFC 6962 splits at the largest power of two, so they fold from the right.
 * That is the tree hash of [0, n) and of every range a proof names (inclusionRanges,
 * consistencyRanges), whose first leaf is aligned to a power of two at least its length.
 */
export function foldSubtrees(roots: readonly Uint8Array[], hashing?: TreeHashing): Uint8Array {
  if (roots.length === 0) throw new RangeError('an empty run of leaves has no subtrees to fold');
  const sha256 = sha256Of(hashing);
  let acc = roots[roots.length - 1]!;
  for (let i = roots.length - 2; i >= 0; i--) acc = node(sha256, roots[i]!, acc);
  return acc;
}

/**
 * The leaf ranges whose tree hashes make the audit path of leaf `index` in a tree of `size`
 * leaves (PATH of RFC 6962 section 2.1.1), the sibling nearest the leaf first.
 */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    throw new RangeError(`leaf ${index} is outside a tree of ${size}`);
  // Top-down, then reversed.
  const ranges: LeafRange[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      ranges.push([start + k, end]);
      end = start + k;
    } else {
      ranges.push([start, start + k]);
      start += k;
    }
  }
  return ranges.reverse();
}

/**
 * The leaf ranges whose tree hashes make the consistency proof from the tree of the first
 * `oldSize` leaves to the tree of `newSize` (PROOF and SUBPROOF of RFC 6962 section 2.1.2).
 */
export function consistencyRanges(oldSize: number, newSize: number): LeafRange[] {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 1 || oldSize > newSize)
    throw new RangeError(`old size ${oldSize} is outside 1..${newSize}`);
  // SUBPROOF(m, D[start:end], complete) puts its own range after its recursion's: collected
  // top-down, then reversed behind the innermost one.
  const outer: LeafRange[] = [];
  let m = oldSize;
  let start = 0;
  let end = newSize;
  let complete = true;
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      outer.push([start + k, end]);
      end = start + k;
    } else {
      outer.push([start, start + k]);
      start += k;
      m -= k;
      complete = false;
    }
  }
  const inner: LeafRange[] = complete ? [] : [[start, end]];
  return inner.concat(outer.reverse());
}

/** Merkle tree hash of the given entry hashes; the empty tree hashes to SHA-256 of nothing. */
export function merkleRoot(entryHashes: readonly Uint8Array[], hashing?: TreeHashing): Uint8Array {
  const frontier = new MerkleFrontier(sha256Of(hashing));
  for (const h of entryHashes) frontier.push(h);
  return frontier.root();
}

/** Called for each node a frontier completes: the leaf pushed (width 1), then each perfect subtree it closes. */
export type NodeObserver = (first: number, width: number, hash: Uint8Array) => void;

/**
 * Incremental root over a stream of leaves with O(log n) memory: the right edge of the tree
 * as perfect subtrees. What the streaming verifier, the journal store and the server's log use.
 */
export class MerkleFrontier {
  /** Perfect subtree roots, largest first, with their sizes (powers of two). */
  private readonly stack: { size: number; hash: Uint8Array }[] = [];
  private count = 0;
  private readonly sha256: Sha256;

  /** `sha256`, when given, hashes instead of `hashing` (for callers that hold libsodium and maybe a native SHA-256). */
  constructor(hashing?: TreeHashing, sha256?: Sha256) {
    this.sha256 = sha256 ?? sha256Of(hashing);
  }

  get size(): number {
    return this.count;
  }

  /** Appends a leaf; `onNode`, when given, sees the leaf hash and every subtree root this completes. */
  push(entryHash: Uint8Array, onNode?: NodeObserver): void {
    const sha256 = this.sha256;
    const index = this.count;
    let hash = leaf(sha256, entryHash);
    let size = 1;
    onNode?.(index, 1, hash);
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === size) {
      const left = this.stack.pop()!;
      hash = node(sha256, left.hash, hash);
      size *= 2;
      onNode?.(index + 1 - size, size, hash);
    }
    this.stack.push({ size, hash });
    this.count += 1;
  }

  /** Root of all leaves pushed so far. */
  root(): Uint8Array {
    if (this.stack.length === 0) return this.sha256(new Uint8Array(0));
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = node(this.sha256, this.stack[i]!.hash, acc);
    return acc;
  }

  /** The roots of the perfect subtrees covering the leaves so far, left to right (perfectSubtrees(0, size)). */
  subtrees(): Uint8Array[] {
    return this.stack.map((n) => n.hash);
  }

  /** Serialisable state, so a store can resume the frontier without rereading every entry. */
  snapshot(): { size: number; nodes: { size: number; hash: string }[] } {
    return { size: this.count, nodes: this.stack.map((n) => ({ size: n.size, hash: bytesToHex(n.hash) })) };
  }

  static restore(
    state: { size: number; nodes: readonly { size: number; hash: string }[] },
    hashing?: TreeHashing,
    sha256?: Sha256,
  ): MerkleFrontier {
    const f = new MerkleFrontier(hashing, sha256);
    for (const n of state.nodes) f.stack.push({ size: n.size, hash: hexToBytes(n.hash) });
    f.count = state.size;
    return f;
  }

  /**
   * The frontier of a tree of `size` leaves from the roots of the perfect subtrees covering it
   * (perfectSubtrees(0, size), left to right: what a sync client receives and what the server
   * reads from storage). Throws a RangeError when they do not have the shape `size` implies.
   */
  static fromSubtrees(size: number, roots: readonly Uint8Array[], hashing?: TreeHashing): MerkleFrontier {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`a tree cannot have ${size} leaves`);
    const shape = perfectSubtrees(0, size);
    const f = new MerkleFrontier(hashing);
    shape.forEach(([first, width], i) => {
      const hash = roots[i];
      if (hash === undefined || hash.length !== 32)
        throw new RangeError(`the frontier of a tree of ${size} leaves needs a 32-byte root for leaves ${first}..${first + width - 1}`);
      f.stack.push({ size: width, hash });
    });
    if (shape.length !== roots.length)
      throw new RangeError(`the frontier of a tree of ${size} leaves has ${shape.length} subtree roots, not ${roots.length}`);
    f.count = size;
    return f;
  }
}

/** Audit path for leaf `index` in a tree of the given leaves (RFC 6962 section 2.1.1). */
export function inclusionProof(index: number, entryHashes: readonly Uint8Array[], hashing?: TreeHashing): Uint8Array[] {
  const sha256 = sha256Of(hashing);
  return inclusionRanges(index, entryHashes.length).map(([s, e]) => merkleRoot(entryHashes.slice(s, e), sha256));
}

/** Consistency proof between the first `oldSize` leaves and all of them (RFC 6962 section 2.1.2). */
export function consistencyProof(oldSize: number, entryHashes: readonly Uint8Array[], hashing?: TreeHashing): Uint8Array[] {
  const sha256 = sha256Of(hashing);
  return consistencyRanges(oldSize, entryHashes.length).map(([s, e]) => merkleRoot(entryHashes.slice(s, e), sha256));
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Checks an inclusion proof (RFC 9162 section 2.1.3.2). `sha256`, when given, hashes instead of
 * `hashing` (for callers that hold libsodium and maybe a native SHA-256).
 */
export function verifyInclusion(
  index: number,
  treeSize: number,
  entryHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  hashing?: TreeHashing,
  sha256?: Sha256,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
  const digest = sha256 ?? sha256Of(hashing);
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf(digest, entryHash);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = node(digest, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = node(digest, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/** Checks a consistency proof (RFC 9162 section 2.1.4.2). */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
  hashing?: TreeHashing,
): boolean {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 1 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  const sha256 = sha256Of(hashing);
  let p = [...proof];
  if ((oldSize & (oldSize - 1)) === 0) p = [oldRoot, ...p];
  if (p.length === 0) return false;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = p[0]!;
  let sr = p[0]!;
  for (const c of p.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = node(sha256, c, fr);
      sr = node(sha256, c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = node(sha256, sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

/**
 * The root of a tree of `size` leaves from its frontier (the roots of the perfect subtrees
 * covering it, left to right, one per set bit of `size`, largest first). A client that checked a
 * batch's leaves against a signed root through the frontier (appendedLeafProofs) learns from this
 * what the log's root was before the batch, and so whether the new head extends a head it holds,
 * without a consistency proof. Throws a RangeError when the frontier does not have the shape
 * `size` implies.
 */
export function frontierRoot(size: number, frontier: readonly Uint8Array[], hashing: TreeHashing): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`a tree of ${size} leaves has no frontier`);
  return MerkleFrontier.fromSubtrees(size, frontier, hashing).root();
}

/**
 * Audit paths of leaves just appended to a tree, computed from what the appender holds: the
 * roots of the perfect subtrees that cover the first `start` leaves (the tree's frontier, left to
 * right, each as large as its alignment allows: one per set bit of `start`) and the appended
 * leaves' entry hashes. Returns the root of the tree of `start + entryHashes.length` leaves and,
 * for each appended leaf, its RFC 6962 audit path in that tree. This is how a sync client checks
 * a whole batch against one signed tree head: its own hashes must lead to the signed root.
 * Throws a RangeError when the frontier does not have the shape `start` implies.
 *
 * Every range an appended leaf's path names is made of perfect subtrees that are either one of
 * the frontier's or completed by the appends (a perfect subtree inside the first `start` leaves
 * is a frontier subtree or lies inside one, and a path never names a part of one).
 */
export function appendedLeafProofs(
  start: number,
  frontier: readonly Uint8Array[],
  entryHashes: readonly Uint8Array[],
  hashing: TreeHashing,
): { root: Uint8Array; proofs: Uint8Array[][] } {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`the appended leaves cannot start at ${start}`);
  if (entryHashes.length === 0) throw new RangeError('no leaves were appended');
  const sha256 = sha256Of(hashing);
  const tree = MerkleFrontier.fromSubtrees(start, frontier, sha256);
  // Perfect subtree roots by first leaf · 64 + log2(width) (exact: levels stay below 64, leaf
  // indexes far below 2^47): the frontier's, then every one the appends complete.
  const key = (first: number, width: number): number => first * 64 + Math.log2(width);
  const subtrees = new Map<number, Uint8Array>();
  perfectSubtrees(0, start).forEach(([first, width], i) => subtrees.set(key(first, width), frontier[i]!));
  const record: NodeObserver = (first, width, hash) => void subtrees.set(key(first, width), hash);
  for (const h of entryHashes) tree.push(h, record);
  const end = tree.size;
  const subtree = (first: number, width: number): Uint8Array => {
    const root = subtrees.get(key(first, width));
    if (root === undefined)
      throw new Error(`leaves ${first}..${first + width - 1} are neither a frontier subtree nor completed by the appends`);
    return root;
  };
  // A path names perfect subtrees, and ranges that are not perfect only at the tree's right
  // edge (they end at `end`): those are folded once each, by their first leaf, since
  // neighbouring leaves share most of their paths.
  const edges = new Map<number, Uint8Array>();
  const rangeRoot = ([s, e]: LeafRange): Uint8Array => {
    const width = e - s;
    if (Number.isInteger(Math.log2(width)) && s % width === 0) return subtree(s, width);
    let hash = e === end ? edges.get(s) : undefined;
    if (hash === undefined) {
      hash = foldSubtrees(
        perfectSubtrees(s, e).map(([first, w]) => subtree(first, w)),
        sha256,
      );
      if (e === end) edges.set(s, hash);
    }
    return hash;
  };
  return { root: tree.root(), proofs: entryHashes.map((_, i) => inclusionRanges(start + i, end).map(rangeRoot)) };
}

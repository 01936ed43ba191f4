import { sodiumNow, type Sodium } from '../sodium';

/**
 * RFC 6962 Merkle tree over entry hashes (section 2.1): leaf = SHA-256(0x00 || entryHash),
 * node = SHA-256(0x01 || left || right), the split at the largest power of two below n.
 */

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** A SHA-256 returning a fresh array; callers outside shared/ may inject a native one (same digests, less overhead than wasm). */
export type Sha256 = (data: Uint8Array) => Uint8Array;

export function leafHash(entryHash: Uint8Array, sodium: Sodium = sodiumNow()): Uint8Array {
  return sodium.crypto_hash_sha256(concat(Uint8Array.of(0), entryHash));
}

export function nodeHash(left: Uint8Array, right: Uint8Array, sodium: Sodium = sodiumNow()): Uint8Array {
  return sodium.crypto_hash_sha256(concat(Uint8Array.of(1), left, right));
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

/** Largest power of two strictly less than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Merkle tree hash of the given entry hashes; the empty tree hashes to SHA-256 of nothing. */
export function merkleRoot(entryHashes: readonly Uint8Array[], sodium: Sodium = sodiumNow()): Uint8Array {
  if (entryHashes.length === 0) return sodium.crypto_hash_sha256(new Uint8Array(0));
  const frontier = new MerkleFrontier(sodium);
  for (const h of entryHashes) frontier.push(h);
  return frontier.root();
}

/**
 * Incremental root over a stream of leaves with O(log n) memory: the right edge of the tree
 * as perfect subtrees. What the streaming verifier and the journal store use.
 */
export class MerkleFrontier {
  /** Perfect subtree roots, largest first, with their sizes (powers of two). */
  private readonly stack: { size: number; hash: Uint8Array }[] = [];
  private count = 0;
  /** One reusable buffer for the hash inputs: 0x00 || leaf (33 bytes) or 0x01 || left || right (65 bytes). */
  private readonly scratch = new Uint8Array(65);
  private readonly sha256: Sha256;

  constructor(
    private readonly sodium: Sodium = sodiumNow(),
    sha256?: Sha256,
  ) {
    this.sha256 = sha256 ?? ((data) => sodium.crypto_hash_sha256(data));
  }

  get size(): number {
    return this.count;
  }

  push(entryHash: Uint8Array): void {
    const scratch = this.scratch;
    let leaf: Uint8Array;
    if (entryHash.length === 32) {
      scratch[0] = 0;
      scratch.set(entryHash, 1);
      leaf = this.sha256(scratch.subarray(0, 33));
    } else {
      leaf = this.sha256(concat(Uint8Array.of(0), entryHash));
    }
    let node = { size: 1, hash: leaf };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === node.size) {
      const left = this.stack.pop()!;
      scratch[0] = 1;
      scratch.set(left.hash, 1);
      scratch.set(node.hash, 33);
      node = { size: left.size * 2, hash: this.sha256(scratch) };
    }
    this.stack.push(node);
    this.count += 1;
  }

  /** Root of all leaves pushed so far. */
  root(): Uint8Array {
    if (this.stack.length === 0) return this.sodium.crypto_hash_sha256(new Uint8Array(0));
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = this.sha256(concat(Uint8Array.of(1), this.stack[i]!.hash, acc));
    return acc;
  }

  /** Serialisable state, so a store can resume the frontier without rereading every entry. */
  snapshot(): { size: number; nodes: { size: number; hash: string }[] } {
    return { size: this.count, nodes: this.stack.map((n) => ({ size: n.size, hash: this.sodium.to_hex(n.hash) })) };
  }

  static restore(state: { size: number; nodes: readonly { size: number; hash: string }[] }, sodium: Sodium = sodiumNow(), sha256?: Sha256): MerkleFrontier {
    const f = new MerkleFrontier(sodium, sha256);
    for (const n of state.nodes) f.stack.push({ size: n.size, hash: sodium.from_hex(n.hash) });
    f.count = state.size;
    return f;
  }
}

/** Audit path for leaf `index` in a tree of the given leaves (RFC 6962 section 2.1.1). */
export function inclusionProof(index: number, entryHashes: readonly Uint8Array[], sodium: Sodium = sodiumNow()): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= entryHashes.length) throw new RangeError(`leaf ${index} is outside a tree of ${entryHashes.length}`);
  const path = (m: number, leaves: readonly Uint8Array[]): Uint8Array[] => {
    if (leaves.length === 1) return [];
    const k = splitPoint(leaves.length);
    return m < k
      ? [...path(m, leaves.slice(0, k)), merkleRoot(leaves.slice(k), sodium)]
      : [...path(m - k, leaves.slice(k)), merkleRoot(leaves.slice(0, k), sodium)];
  };
  return path(index, entryHashes);
}

/** Checks an inclusion proof (RFC 9162 section 2.1.3.2). */
export function verifyInclusion(
  index: number,
  treeSize: number,
  entryHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
  sodium: Sodium = sodiumNow(),
  sha256?: Sha256,
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(treeSize) || index < 0 || index >= treeSize) return false;
  const digest: Sha256 = sha256 ?? ((data) => sodium.crypto_hash_sha256(data));
  const node = (left: Uint8Array, right: Uint8Array): Uint8Array => digest(concat(Uint8Array.of(1), left, right));
  let fn = index;
  let sn = treeSize - 1;
  let r = digest(concat(Uint8Array.of(0), entryHash));
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = node(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.length === root.length && sodium.memcmp(r, root);
}

/** Consistency proof between the first `oldSize` leaves and all of them (RFC 6962 section 2.1.2). */
export function consistencyProof(oldSize: number, entryHashes: readonly Uint8Array[], sodium: Sodium = sodiumNow()): Uint8Array[] {
  const n = entryHashes.length;
  if (!Number.isInteger(oldSize) || oldSize < 1 || oldSize > n) throw new RangeError(`old size ${oldSize} is outside 1..${n}`);
  const subproof = (m: number, leaves: readonly Uint8Array[], complete: boolean): Uint8Array[] => {
    if (m === leaves.length) return complete ? [] : [merkleRoot(leaves, sodium)];
    const k = splitPoint(leaves.length);
    return m <= k
      ? [...subproof(m, leaves.slice(0, k), complete), merkleRoot(leaves.slice(k), sodium)]
      : [...subproof(m - k, leaves.slice(k), false), merkleRoot(leaves.slice(0, k), sodium)];
  };
  return subproof(oldSize, entryHashes, true);
}

/** Checks a consistency proof (RFC 9162 section 2.1.4.2). */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
  sodium: Sodium = sodiumNow(),
): boolean {
  if (!Number.isInteger(oldSize) || !Number.isInteger(newSize) || oldSize < 1 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && sodium.memcmp(oldRoot, newRoot);
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
      fr = nodeHash(c, fr, sodium);
      sr = nodeHash(c, sr, sodium);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c, sodium);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sodium.memcmp(fr, oldRoot) && sodium.memcmp(sr, newRoot);
}

/**
 * The root of a tree of `size` leaves from its frontier (the roots of the perfect subtrees
 * covering it, left to right, one per set bit of `size`, largest first): RFC 6962 splits a tree
 * at its largest power of two, so the root folds the frontier from the right. A client that
 * checked a batch's leaves against a signed root through the frontier (appendedLeafProofs) learns
 * from this what the log's root was before the batch, and so whether the new head extends a head
 * it holds, without a consistency proof. Throws a RangeError when the frontier does not have the
 * shape `size` implies.
 */
export function frontierRoot(size: number, frontier: readonly Uint8Array[], sha256: Sha256): Uint8Array {
  const shape = perfectSubtrees(0, size);
  if (size < 1 || shape.length !== frontier.length || frontier.some((h) => h.length !== 32)) throw new RangeError(`a tree of ${size} leaves has a frontier of ${shape.length} 32-byte subtree roots`);
  let root = frontier[frontier.length - 1]!;
  for (let i = frontier.length - 2; i >= 0; i--) root = sha256(concat(Uint8Array.of(1), frontier[i]!, root));
  return root;
}

/**
 * Audit paths of leaves just appended to a tree, computed from what the appender holds: the
 * roots of the perfect subtrees that cover the first `start` leaves (the tree's frontier, left to
 * right, each as large as its alignment allows: one per set bit of `start`) and the appended
 * leaves' entry hashes. Returns the root of the tree of `start + entryHashes.length` leaves and,
 * for each appended leaf, its RFC 6962 audit path in that tree. This is how a sync client checks
 * a whole batch against one signed tree head: its own hashes must lead to the signed root.
 * Throws a RangeError when the frontier does not have the shape `start` implies.
 */
export function appendedLeafProofs(start: number, frontier: readonly Uint8Array[], entryHashes: readonly Uint8Array[], sha256: Sha256): { root: Uint8Array; proofs: Uint8Array[][] } {
  if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`the appended leaves cannot start at ${start}`);
  if (entryHashes.length === 0) throw new RangeError('no leaves were appended');
  const end = start + entryHashes.length;
  // Subtree roots by leaf range "first:end": the frontier's, then every one the fold computes.
  const known = new Map<string, Uint8Array>();
  const shape = perfectSubtrees(0, start);
  shape.forEach(([first, width], i) => {
    const hash = frontier[i];
    if (hash === undefined || hash.length !== 32) throw new RangeError(`the frontier of a tree of ${start} leaves needs a 32-byte root for leaves ${first}..${first + width - 1}`);
    known.set(`${first}:${first + width}`, hash);
  });
  if (shape.length !== frontier.length) throw new RangeError(`the frontier of a tree of ${start} leaves has ${shape.length} subtree roots, not ${frontier.length}`);

  const node = (left: Uint8Array, right: Uint8Array): Uint8Array => sha256(concat(Uint8Array.of(1), left, right));
  /** MTH of leaves [s, e): a frontier subtree, an appended leaf, or the fold of its RFC 6962 split. */
  const mth = (s: number, e: number): Uint8Array => {
    const id = `${s}:${e}`;
    let hash = known.get(id);
    if (hash !== undefined) return hash;
    if (e <= start) throw new RangeError(`leaves ${s}..${e - 1} are neither a frontier subtree nor appended`);
    if (e - s === 1) {
      hash = sha256(concat(Uint8Array.of(0), entryHashes[s - start]!));
    } else {
      const k = splitPoint(e - s);
      hash = node(mth(s, s + k), mth(s + k, e));
    }
    known.set(id, hash);
    return hash;
  };
  /** PATH(m, D[s:e]) of RFC 6962 section 2.1.1, nearest sibling first. */
  const path = (m: number, s: number, e: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    while (e - s > 1) {
      const k = splitPoint(e - s);
      if (m < s + k) {
        out.push(mth(s + k, e));
        e = s + k;
      } else {
        out.push(mth(s, s + k));
        s += k;
      }
    }
    return out.reverse();
  };
  const root = mth(0, end);
  return { root, proofs: entryHashes.map((_, i) => path(start + i, 0, end)) };
}

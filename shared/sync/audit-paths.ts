import { bytesToHex } from '../journal/hex';
import { foldSubtrees, leafHash, nodeHash, perfectSubtrees, type MerkleFrontier, type NodeObserver, type Sha256 } from '../journal/merkle';

/**
 * Checking every receipt's audit path in a server export against the tree the file's own leaves
 * build, instead of hashing each path up to the root (docs/sync-protocol.md, "Verifying a server
 * export"). The export verifier rebuilds the whole tree anyway to compare its root with the signed
 * one, so every node a path names is computed once, in passing: a path is right exactly when each
 * of its hashes is the tree's own node there (short of a SHA-256 collision), which costs a string
 * comparison per hash instead of a SHA-256 per hash.
 *
 * The path of leaf i names, level by level from the leaf up, the sibling of the node holding i:
 * on the left, a perfect subtree completed before i, whose hash is known when i is read; on the
 * right, a subtree not read yet (perfect, or cut short by the tree's size). A right sibling is
 * claimed by every leaf under its left neighbour, so one pending claim per level is kept, with
 * how many leaves made it, and settled when the tree completes that node (the cut-short ones
 * when the file ends). Memory stays O(log n).
 *
 * Valid only while leaf positions and log indexes are in step: the caller abandons it the moment
 * a line takes a place in the log without a leaf (the file then fails on its root or indexes).
 *
 * A range of the log verified on its own (shared/sync/export-range.ts) starts at a leaf `start`
 * other than 0: the nodes it can settle are those inside it; a claim on a node that begins before
 * `start` (a left sibling), or that the range ends before completing (a right sibling), is handed
 * to `outside`, for the join to settle against the whole tree (shared/sync/export-join.ts).
 */

/** Who made a claim, for the failure report. */
export interface ClaimRef {
  readonly line: number;
}

interface Claim<Ref> {
  /** The claimed node: leaves [first, end). */
  readonly first: number;
  readonly end: number;
  /** The hash the first claimant named (64 characters, as in the file). */
  readonly value: string;
  readonly ref: Ref;
  /** Claimants that named `value`, and the last one's line. */
  count: number;
  lastLine: number;
  /** Claimants that named something else (kept up to a bound: each is a failure either way). */
  readonly others: { readonly value: string; readonly ref: Ref }[];
}

const MAX_OTHERS = 1_000;

/** Called for each wrong claim: the first claimant, how many named the same wrong hash, the last one's line, and the node. */
export type WrongPath<Ref> = (ref: Ref, count: number, lastLine: number, first: number, end: number) => void;

/** A claim on a node outside a range: leaves [first, end), the hash named, and who named it. */
export type OutsideClaim<Ref> = (first: number, end: number, value: string, ref: Ref) => void;

/** The tree level of a perfect subtree of `width` leaves (a power of two). */
const level = (width: number): number => (width <= 0x40000000 ? 31 - Math.clz32(width) : Math.round(Math.log2(width)));

export class StreamedAuditPaths<Ref extends ClaimRef> {
  /** Per level, the hex hash and first leaf of the last node the tree completed there. */
  private readonly known: string[] = [];
  private readonly knownFirst: number[] = [];
  /** Per level, the pending claim on a perfect right sibling. */
  private readonly right: (Claim<Ref> | undefined)[] = [];
  /** Claims on right siblings cut short by the tree's size, by first leaf: settled when the file ends. */
  private readonly tails = new Map<number, Claim<Ref>>();
  /** The last leaf whose path passed with every claim matching (-2: none), its line and its hashes' offsets (copied). */
  private passed = -2;
  private passedText = '';
  private passedCount = 0;
  private readonly passedOffsets: number[] = [];

  /**
   * `size`: the signed tree's size (every path is a path in that tree). `wrong` is called for each
   * claim the tree proves wrong.
   */
  private readonly start: number;
  private readonly outside: OutsideClaim<Ref> | null;

  constructor(
    private readonly size: number,
    private readonly wrong: WrongPath<Ref>,
    range?: { readonly start: number; readonly outside: OutsideClaim<Ref> },
  ) {
    this.start = range?.start ?? 0;
    this.outside = range?.outside ?? null;
  }

  /** Pass to MerkleFrontier.push for every leaf of the log, in order. */
  readonly observe: NodeObserver = (first, width, hash) => {
    const k = level(width);
    const hex = bytesToHex(hash);
    this.known[k] = hex;
    this.knownFirst[k] = first;
    const claim = this.right[k];
    if (claim !== undefined && claim.first === first) {
      this.right[k] = undefined;
      this.settle(claim, hex);
    }
  };

  // Hashes are compared as slices (`slice(…) === known`): V8 compares two strings' contents in one
  // step, several times faster than `startsWith(known, at)` walks them (measured on Node 20).

  /**
   * Checks the audit path of leaf `index` (read before the leaf is pushed): `count` hashes of 64
   * characters, each starting at `offsets[e]` in `text`. Left siblings are compared now; right ones
   * are claimed. Returns false when the path is already known to be wrong (its length, or a left
   * sibling), true otherwise (a wrong claim is reported through `wrong` when its node completes).
   */
  check(index: number, text: string, offsets: ArrayLike<number>, count: number, ref: Ref): boolean {
    const size = this.size;
    if (index >= size) return false;
    // Leaves index - 1 and index share every node above level `shared` (the highest bit in which
    // they differ): their paths name the same siblings there, and no node at those levels completes
    // between the two leaves. When the last path that passed, with every claim matching, was the
    // previous leaf's, and this one names those siblings with the same text, their checks and claims
    // are the previous ones again: only the claims' counts move.
    const shared = index === this.passed + 1 && index <= 0x7fffffff ? 31 - Math.clz32((index - 1) ^ index) : 64;
    // Validate the whole path before claiming anything, so a wrong path leaves no claim behind.
    /** The first level whose check repeats the previous leaf's (64: none). */
    let top = 64;
    let e = 0;
    for (let j = index, w = 1, k = 0; !(j === 0 && w >= size); j = Math.floor(j / 2), w *= 2, k++) {
      if (k === shared + 1 && this.repeats(index, k, text, offsets, e, count)) {
        top = k;
        break;
      }
      if (j % 2 === 1) {
        if (e >= count || !this.leftSibling(k, (j - 1) * w, text, offsets[e]!)) return this.failed();
        e += 1;
      } else if ((j + 1) * w < size) e += 1;
    }
    if (top === 64 && e !== count) return this.failed();
    let clean = true;
    e = 0;
    for (let j = index, w = 1, k = 0; !(j === 0 && w >= size); j = Math.floor(j / 2), w *= 2, k++) {
      if (j % 2 === 1) {
        const first = (j - 1) * w;
        // Handed on for the previous leaf already, with the same text, when the level repeats.
        if (first < this.start && k < top) this.outside!(first, first + w, text.slice(offsets[e]!, offsets[e]! + 64), ref);
        e += 1;
        continue;
      }
      const first = (j + 1) * w;
      if (first >= size) continue;
      const at = offsets[e]!;
      e += 1;
      const end = Math.min(first + w, size);
      const claim = end - first === w ? this.right[k] : this.tails.get(first);
      if (claim !== undefined && claim.first === first) {
        // A repeated level: the previous leaf named this node with this text, and it matched.
        if (k >= top || text.slice(at, at + 64) === claim.value) {
          claim.count += 1;
          claim.lastLine = ref.line;
        } else {
          clean = false;
          if (claim.others.length < MAX_OTHERS) claim.others.push({ value: text.slice(at, at + 64), ref });
        }
        continue;
      }
      const fresh: Claim<Ref> = { first, end, value: text.slice(at, at + 64), ref, count: 1, lastLine: ref.line, others: [] };
      if (end - first === w) this.right[k] = fresh;
      else this.tails.set(first, fresh);
    }
    if (clean) {
      this.passed = index;
      this.passedText = text;
      this.passedCount = count;
      for (let i = 0; i < count; i++) this.passedOffsets[i] = offsets[i]!;
    } else this.passed = -2;
    return true;
  }

  /**
   * Whether this path, from level `k` (its element `e`) up, names what the previous leaf's path
   * named from the same level: as many hashes, the same text.
   */
  private repeats(index: number, k: number, text: string, offsets: ArrayLike<number>, e: number, count: number): boolean {
    // The previous leaf's path elements below level k.
    let from = 0;
    for (let jp = index - 1, wp = 1, kp = 0; kp < k; jp = Math.floor(jp / 2), wp *= 2, kp++)
      if (jp % 2 === 1 || (jp + 1) * wp < this.size) from += 1;
    const rest = this.passedCount - from;
    if (rest < 0 || e + rest !== count) return false;
    return (
      rest === 0 ||
      text.slice(offsets[e]!, offsets[count - 1]! + 64) ===
        this.passedText.slice(this.passedOffsets[from]!, this.passedOffsets[this.passedCount - 1]! + 64)
    );
  }

  /** Whether the path's hash at `at` is the left sibling the tree completed at level `k` (one before the range's first leaf is the join's to settle). */
  private leftSibling(k: number, first: number, text: string, at: number): boolean {
    return first < this.start || (this.knownFirst[k] === first && text.slice(at, at + 64) === this.known[k]);
  }

  /** A path found wrong: the next leaf's is checked in full. */
  private failed(): false {
    this.passed = -2;
    return false;
  }

  /**
   * At the end of the file: settles the claims on cut-short right siblings from the complete
   * tree's frontier. Claims on nodes the file never completed are dropped: a file that stops short
   * of the signed size already fails (TRUNCATED_TAIL).
   */
  finish(frontier: Pick<MerkleFrontier, 'size' | 'subtrees'>, sha256: Sha256): void {
    this.right.length = 0;
    if (frontier.size !== this.size || this.size === 0) {
      this.tails.clear();
      return;
    }
    const shape = perfectSubtrees(0, this.size);
    const roots = frontier.subtrees();
    for (const claim of this.tails.values()) {
      const under = roots.filter((_r, i) => shape[i]![0] >= claim.first);
      this.settle(claim, bytesToHex(foldSubtrees(under, sha256)));
    }
    this.tails.clear();
  }

  /**
   * At the end of a range: every claim still pending (on a node the range did not complete) goes
   * to `outside`, each hash named with its first claimant.
   */
  release(): void {
    const pending = [...this.right.filter((c): c is Claim<Ref> => c !== undefined), ...this.tails.values()];
    for (const claim of pending) {
      this.outside!(claim.first, claim.end, claim.value, claim.ref);
      for (const other of claim.others) this.outside!(claim.first, claim.end, other.value, other.ref);
    }
    this.abandon();
  }

  /** Drops every pending claim (the leaves went out of step with the log indexes). */
  abandon(): void {
    this.passed = -2;
    this.right.length = 0;
    this.tails.clear();
  }

  private settle(claim: Claim<Ref>, truth: string): void {
    if (claim.value !== truth) this.wrong(claim.ref, claim.count, claim.lastLine, claim.first, claim.end);
    for (const other of claim.others) if (other.value !== truth) this.wrong(other.ref, 1, other.ref.line, claim.first, claim.end);
  }
}

/** A perfect subtree of the log: leaves [first, first + width), `first` a multiple of `width` (a power of two). */
export interface Piece {
  readonly first: number;
  readonly width: number;
  readonly hash: Uint8Array;
}

/**
 * The right edge of a tree built from leaf `start` on, by the tree's own alignment: a node is
 * made only where the whole tree has it, so a run of leaves starting anywhere yields the perfect
 * subtrees of the whole tree that it holds (MerkleFrontier treats its first leaf as leaf 0).
 * Pieces can be pushed as well as leaves, so the runs of several ranges join into the whole tree.
 */
export class AlignedFrontier {
  private readonly stack: Piece[] = [];
  private end: number;

  constructor(
    readonly start: number,
    private readonly sha256: Sha256,
  ) {
    this.end = start;
  }

  /** The leaf after the last one pushed (start + leaves pushed). */
  get size(): number {
    return this.end;
  }

  /** Appends a leaf; `onNode` sees the leaf hash and every node this completes. */
  push(entryHash: Uint8Array, onNode?: NodeObserver): void {
    this.pushPiece(this.end, 1, leafHash(entryHash, this.sha256), onNode);
  }

  /** Appends a perfect subtree starting where the leaves so far end, aligned to its width; `onNode` sees it and every node it completes. */
  pushPiece(first: number, width: number, hash: Uint8Array, onNode?: NodeObserver): void {
    if (first !== this.end || width < 1 || first % width !== 0)
      throw new RangeError(`a piece of ${width} at leaf ${first} does not fit at ${this.end}`);
    onNode?.(first, width, hash);
    let at = first;
    let w = width;
    let h = hash;
    const stack = this.stack;
    for (let top = stack[stack.length - 1]; top !== undefined; top = stack[stack.length - 1]) {
      // Only the node's own left sibling joins it: same width, just before it, on an even place.
      if (top.width !== w || top.first + w !== at || top.first % (2 * w) !== 0) break;
      stack.pop();
      h = nodeHash(top.hash, h, this.sha256);
      at = top.first;
      w *= 2;
      onNode?.(at, w, h);
    }
    stack.push({ first: at, width: w, hash: h });
    this.end = first + width;
  }

  /** The perfect subtrees covering [start, size), left to right (perfectSubtrees(start, size)). */
  pieces(): readonly Piece[] {
    return [...this.stack];
  }

  /** The pieces' roots, left to right. */
  subtrees(): Uint8Array[] {
    return this.stack.map((p) => p.hash);
  }

  /** The RFC 6962 root of the leaves [start, size): for start 0, the tree's root. */
  root(): Uint8Array {
    return this.stack.length === 0
      ? this.sha256(new Uint8Array(0))
      : foldSubtrees(
          this.stack.map((p) => p.hash),
          this.sha256,
        );
  }

  copy(): AlignedFrontier {
    const f = new AlignedFrontier(this.start, this.sha256);
    f.stack.push(...this.stack);
    f.end = this.end;
    return f;
  }
}

import { bytesToHex } from '../journal/hex';
import { foldSubtrees, perfectSubtrees, type MerkleFrontier, type NodeObserver, type Sha256 } from '../journal/merkle';

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

  /**
   * `size`: the signed tree's size (every path is a path in that tree). `wrong` is called for each
   * claim the tree proves wrong.
   */
  constructor(
    private readonly size: number,
    private readonly wrong: WrongPath<Ref>,
  ) {}

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
    // Validate the whole path before claiming anything, so a wrong path leaves no claim behind.
    let e = 0;
    for (let j = index, w = 1, k = 0; !(j === 0 && w >= size); j = Math.floor(j / 2), w *= 2, k++) {
      if (j % 2 === 1) {
        if (e >= count) return false;
        const first = (j - 1) * w;
        if (this.knownFirst[k] !== first || text.slice(offsets[e]!, offsets[e]! + 64) !== this.known[k]) return false;
        e += 1;
      } else if ((j + 1) * w < size) e += 1;
    }
    if (e !== count) return false;
    e = 0;
    for (let j = index, w = 1, k = 0; !(j === 0 && w >= size); j = Math.floor(j / 2), w *= 2, k++) {
      if (j % 2 === 1) {
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
        const value = text.slice(at, at + 64);
        if (value === claim.value) {
          claim.count += 1;
          claim.lastLine = ref.line;
        } else if (claim.others.length < MAX_OTHERS) claim.others.push({ value, ref });
        continue;
      }
      const fresh: Claim<Ref> = { first, end, value: text.slice(at, at + 64), ref, count: 1, lastLine: ref.line, others: [] };
      if (end - first === w) this.right[k] = fresh;
      else this.tails.set(first, fresh);
    }
    return true;
  }

  /**
   * At the end of the file: settles the claims on cut-short right siblings from the complete
   * tree's frontier. Claims on nodes the file never completed are dropped: a file that stops short
   * of the signed size already fails (TRUNCATED_TAIL).
   */
  finish(frontier: MerkleFrontier, sha256: Sha256): void {
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

  /** Drops every pending claim (the leaves went out of step with the log indexes). */
  abandon(): void {
    this.right.length = 0;
    this.tails.clear();
  }

  private settle(claim: Claim<Ref>, truth: string): void {
    if (claim.value !== truth) this.wrong(claim.ref, claim.count, claim.lastLine, claim.first, claim.end);
    for (const other of claim.others) if (other.value !== truth) this.wrong(other.ref, 1, other.ref.line, claim.first, claim.end);
  }
}

import { z } from 'zod';
import { canonicalTextProblem, canonicalize } from '../journal/canonical';
import { NOT_UTF8_LINE } from '../journal/bundle';
import { canonicalEntryTexts, type SignedEntry } from '../journal/entry';
import { bytesToHex, hexToBytes } from '../journal/hex';
import { MerkleFrontier, type NodeObserver } from '../journal/merkle';
import { hexAt, integerEnd, lastOccurrence, readCanonicalEntryLine } from '../journal/entry-line';
import { sodiumPrimitives, type JournalPrimitives } from '../journal/primitives';
import { ENTRY_TYPES } from '../journal/entry-types';
import {
  ChainVerifier,
  FAILURE_CODES,
  type ChainVerifierOptions,
  type FailureCode,
  type PrecomputedChecks,
  type VerificationFailure,
} from '../journal/verifier';
import { sodiumNow, type Sodium } from '../sodium';
import { verifyInclusion } from '../journal/merkle';
import { receiptProblem, receiptSchema, treeHeadProblem, treeHeadSchema, type TreeHead } from './receipt';
import { reviewHash, signedReviewSchema, verifyReviewSignature, type ReviewFinding, type ReviewSubject } from './review-wire';
import { StreamedAuditPaths } from './audit-paths';

/** Format name in the first line of the reviewer's org-wide export (docs/sync-protocol.md). */
export const SERVER_EXPORT_FORMAT = 'halfkey-server-export';
export const SERVER_EXPORT_VERSION = 1;

/**
 * Why a server export failed: every journal failure code, plus the ones only a server export has.
 * BAD_TREE_HEAD: the header's signed tree head is malformed or its signature fails the pinned key.
 * SERVER_KEY_MISMATCH: the header names another server key than the one pinned.
 * LOG_INDEX_MISMATCH: a line's log index is not the next one (a line dropped, repeated or moved).
 * LOG_ROOT_MISMATCH: the leaves of the whole file do not rebuild the signed root.
 * BAD_REVIEW: a review line is malformed, its reviewer signature fails, or its receipt does not
 * prove its review hash under the export's head.
 */
export type ServerExportFailureCode =
  FailureCode | 'BAD_TREE_HEAD' | 'SERVER_KEY_MISMATCH' | 'LOG_INDEX_MISMATCH' | 'LOG_ROOT_MISMATCH' | 'BAD_REVIEW';

/** A reviewer's signed review found in the export (a review line), and whether it verified. */
export interface ServerExportReview {
  readonly line: number;
  readonly logIndex: number;
  readonly subject: ReviewSubject | null;
  readonly reviewer: string | null;
  readonly finding: ReviewFinding | null;
  readonly ok: boolean;
}

/** One problem, located by device and seq when the line was readable enough to say, and by line. */
export interface ServerExportFailure {
  readonly line: number | null;
  readonly vault: string | null;
  readonly device: string | null;
  readonly seq: number | null;
  readonly code: ServerExportFailureCode;
  readonly reason: string;
}

/** What one device's chain in the export came to. */
export interface ServerExportDevice {
  readonly vault: string;
  readonly device: string;
  readonly ok: boolean;
  readonly entries: number;
  readonly head: { readonly seq: number; readonly hash: string } | null;
  readonly failureCount: number;
  readonly failures: readonly VerificationFailure[];
}

/** The verdict on a whole export: ok only if the header, every line, every chain and the root verify. */
export interface ServerExportReport {
  readonly format: typeof SERVER_EXPORT_FORMAT;
  readonly ok: boolean;
  readonly serverKey: string;
  readonly treeHead: TreeHead | null;
  /** Log lines read, entries and reviews (including failing ones): the log size the file claims. */
  readonly entries: number;
  readonly devices: readonly ServerExportDevice[];
  /** Review lines, in file order (at most 1,000 kept). */
  readonly reviews: ServerExportReview[];
  readonly failureCount: number;
  /** The first failures (at most 1,000), in file order. */
  readonly failures: readonly ServerExportFailure[];
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const headerSchema = z
  .object({
    kind: z.literal('header'),
    format: z.literal(SERVER_EXPORT_FORMAT),
    version: z.literal(SERVER_EXPORT_VERSION),
    serverKey: hex64,
    treeHead: z.unknown(),
  })
  .strict();
const lineSchema = z.object({ kind: z.literal('entry'), entry: z.record(z.string(), z.unknown()), receipt: z.unknown() }).strict();
const reviewLineSchema = z
  .object({ kind: z.literal('review'), review: z.unknown(), signature: z.unknown(), receipt: z.unknown() })
  .strict();
const reviewReceiptSchema = z
  .object({
    logIndex: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    inclusionProof: z.array(hex64).max(64),
    treeHead: treeHeadSchema,
  })
  .strict();

const MAX_KEPT_FAILURES = 1_000;
const isFailureCode = (code: ServerExportFailureCode): code is FailureCode => (FAILURE_CODES as readonly string[]).includes(code);
const short = (hex: string): string => (hex.length > 12 ? `${hex.slice(0, 12)}…` : hex);
const utf8 = new TextEncoder();

/** Whether a line is exactly the canonical JSON of the value parsed from it. */
function isCanonical(value: unknown, text: string): boolean {
  try {
    return canonicalize(value) === text;
  } catch {
    return false;
  }
}
const notCanonical = (lineNo: number, text: string): string =>
  `line ${lineNo} is not canonical JSON: ${canonicalTextProblem(text) ?? 'it differs from the canonical form'}`;

/**
 * An export entry line, `{"entry":…,"kind":"entry","receipt":…}`, from the entry's canonical
 * bundle line (`{"entry":…,"kind":"entry"}`, canonicalEntryTexts) and the receipt's canonical
 * JSON: "receipt" sorts after "kind", so the two compose without re-encoding the entry.
 */
export const exportEntryLine = (entryLine: string, receiptText: string): string => `${entryLine.slice(0, -1)},"receipt":${receiptText}}`;

/**
 * An export review line: a reviewer's signed review (shared/sync/review-wire.ts) logged as its own
 * leaf (leaf data: reviewHash), with its receipt ({ logIndex, inclusionProof, treeHead }), as
 * canonical JSON: `{"kind":"review","receipt":…,"review":…,"signature":…}`.
 */
export const exportReviewLine = (review: unknown, signature: string, receipt: unknown): string =>
  canonicalize({ kind: 'review', review, signature, receipt });

/** The format named by an export file's first line, or null when it is not JSON naming one. */
export function exportFormatOf(firstLine: string): string | null {
  try {
    const value = JSON.parse(firstLine) as unknown;
    if (typeof value !== 'object' || value === null) return null;
    const format = (value as { format?: unknown }).format;
    return typeof format === 'string' ? format : null;
  } catch {
    return null;
  }
}

export interface DeviceChain {
  readonly vault: string;
  readonly device: string;
  /** The line its first entry is on (devices are reported in that order). */
  readonly firstLine: number;
  readonly verifier: ChainVerifier;
  /** Failures of this device's lines outside its chain (receipts, log order), kept for its report. */
  readonly logFailures: VerificationFailure[];
  logFailureCount: number;
  /** Entries since this device's last valid checkpoint whose device signature is not verified yet (anchored mode). */
  pending: Pending[];
}

/** Who claimed an audit path's node (anchored mode): to report a path the tree proves wrong at its line. */
export interface PathRef {
  readonly line: number;
  readonly seq: number;
  /** The device's chain (or, in split verification, only its ids: failures end the split anyway). */
  readonly chain: DeviceChain | { readonly vault: string; readonly device: string };
}

/**
 * Where the receipt starts in an export entry line: its last occurrence, since everything after
 * it in a canonical line (hex, integers, the tree head) is fixed syntax that cannot hold it.
 */
export const RECEIPT_START = ',"receipt":{"device":"';

/** An entry a later checkpoint of its device should stand for: what is needed to verify its device signature if none does. */
export interface Pending {
  readonly line: number;
  readonly seq: number;
  readonly hash: string;
  readonly sig: { readonly key: string; readonly sig: string };
}

/**
 * Entry types whose every signature is verified even when a later checkpoint covers them (the
 * server's anchored ingest uses the same list, server/ingest.ts): they introduce, change or end a
 * key (a key change takes effect only from an entry that verified in full), and a checkpoint
 * anchors the entries before it.
 */
export const VERIFIED_ALONE: ReadonlySet<string> = new Set<string>([
  ENTRY_TYPES.genesis,
  ENTRY_TYPES.custodianEnrolled,
  ENTRY_TYPES.custodianRevoked,
  ENTRY_TYPES.deviceKeyRotated,
  ENTRY_TYPES.checkpoint,
]);
/** Pending entries one device may hold before they are verified one by one (a journal without checkpoints keeps memory flat). */
const MAX_PENDING = 65_536;

/** Options of the export verifier. */
export interface ServerExportOptions {
  /** Verify every entry's device signature (`--full`); default: anchored on each device's checkpoints. */
  readonly full?: boolean;
  /**
   * Split verification (anchored only): this verifier checks the log (header, receipts, audit
   * paths, root, reviews) and hands each entry line's entry part to `split` for chain
   * verifiers elsewhere (ServerExportVerifier.pushChainLine, in worker threads). It gives up
   * (`splitAbandoned`) at the first line it cannot read on the fast path; the caller then
   * verifies the file in one piece, so a report with failures is always the sequential one.
   */
  readonly split?: (line: SplitEntryLine) => void;
}

/** An entry line handed to a chain verifier elsewhere: what its receipt says the entry is. */
export interface SplitEntryLine {
  readonly line: number;
  /** The entry's bundle line, `{"entry":…,"kind":"entry"}`. */
  readonly text: string;
  readonly device: string;
  readonly hash: string;
  readonly seq: number;
}

/** What the chain verifiers of a split verification found: clean only if every entry verified. */
export interface SplitChainsReport {
  readonly clean: boolean;
  readonly devices: readonly (ServerExportDevice & { readonly firstLine: number })[];
}

/** The rebuilt log tree: a MerkleFrontier for a whole file, an AlignedFrontier for a range of it (export-range.ts). */
export interface LogFrontier {
  readonly size: number;
  push(entryHash: Uint8Array, onNode?: NodeObserver): void;
  root(): Uint8Array;
  subtrees(): Uint8Array[];
}

const UNREADABLE = Symbol('unreadable line');
function parsedOrUnreadable(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return UNREADABLE;
  }
}

/**
 * Streaming verifier of the server's org-wide export: push lines in file order, then finish().
 * The export carries no device-signed manifest (the server holds no device key), so its
 * authority is the server's signed tree head, checked against a key the reviewer pinned: every
 * receipt must be under exactly that head, the log indexes must run 0..size-1, the leaves must
 * rebuild its root, and each device's entries must verify as a chain from genesis.
 * Memory grows with the number of devices, not entries. Call `await sodiumReady()` first.
 */
export class ServerExportVerifier {
  private readonly sodium: Sodium;
  protected readonly chains = new Map<string, DeviceChain>();
  protected frontier: LogFrontier;
  private readonly kept: ServerExportFailure[] = [];
  private readonly verifiedHeads = new Set<string>();
  private readonly reviews: ServerExportReview[] = [];
  protected failureCount = 0;
  protected lineNo = 0;
  private entryLines = 0;
  /** The log index the next entry line must have. */
  protected nextIndex = 0;
  protected head: TreeHead | null = null;
  /** Canonical JSON of the header's head: every receipt must carry exactly this. */
  protected headJson: string | null = null;
  protected sawHeader = false;
  /** Set once the end-of-file checks run: failures without a line found then sort after every line. */
  private finishing = false;
  /** Indexes in `kept` of failures found at the end of the file. */
  private readonly keptAtEnd = new Set<number>();

  private readonly verifySignature: JournalPrimitives['verifyEntrySignature'];
  private readonly full: boolean;
  protected readonly sha256: (data: Uint8Array) => Uint8Array;
  /** SHA-256 of a text's UTF-8 bytes, as hex (native when the primitives offer it). */
  private readonly sha256TextHex: (text: string) => string;
  /**
   * Anchored mode, once the header's head verified: receipts' audit paths checked against the tree
   * the file's leaves build (shared/sync/audit-paths.ts); null in full mode, without a trusted
   * head, or once the leaves went out of step with the log indexes (then each path is hashed).
   */
  protected paths: StreamedAuditPaths<PathRef> | null = null;
  /** Entry lines read by the anchored fast path (fastEntryLine): for tests and benchmarks. */
  linesReadFast = 0;
  /** Split verification: set at the first line this verifier could not hand on. */
  splitAbandoned = false;
  private readonly split: ((line: SplitEntryLine) => void) | null;
  /** Audit paths the rebuilt tree proved wrong, reported only once its root is known to be the signed one. */
  protected readonly wrongPaths: { readonly ref: PathRef; readonly count: number; readonly lastLine: number }[] = [];
  protected wrongPathsUnkept = 0;
  /** Offsets of one line's audit path hashes (fast path scratch). */
  private readonly offsets = new Int32Array(64);

  /**
   * `primitives`: the hash and signature primitives (default libsodium); the Node side passes
   * node:crypto's. By default an entry's device signature is verified only when no later valid
   * checkpoint of its device covers it (docs/sync-protocol.md, "Verifying by checkpoints");
   * `options.full` verifies every one.
   */
  constructor(
    private readonly serverKey: string,
    protected readonly primitives?: JournalPrimitives,
    options: ServerExportOptions = {},
  ) {
    this.sodium = sodiumNow();
    this.frontier = new MerkleFrontier(this.sodium, primitives?.sha256);
    this.verifySignature = (primitives ?? sodiumPrimitives(this.sodium)).verifyEntrySignature;
    this.full = options.full === true;
    this.split = options.split !== undefined && !this.full ? options.split : null;
    this.sha256 = primitives?.sha256 ?? ((data: Uint8Array): Uint8Array => this.sodium.crypto_hash_sha256(data));
    const sha256Text = (primitives as { sha256Text?: (text: string) => Uint8Array } | undefined)?.sha256Text;
    this.sha256TextHex =
      sha256Text !== undefined ? (text) => bytesToHex(sha256Text(text)) : (text) => bytesToHex(this.sha256(utf8.encode(text)));
  }

  /** Appends a leaf to the rebuilt log tree (every leaf goes through here, so the audit paths see every node). */
  protected pushLeaf(entryHash: Uint8Array): void {
    this.frontier.push(entryHash, this.paths?.observe);
  }

  /** After any line not read by the fast path: audit paths can be settled by the tree only while leaves and indexes are in step. */
  private keepInStep(): void {
    if (this.paths !== null && this.frontier.size !== this.nextIndex) {
      this.paths.abandon();
      this.paths = null;
    }
  }

  /**
   * Checks one line of the file (without its line feed). Every line must be the canonical JSON
   * of its record, as in a device bundle: JSON.parse reads `4.0` as 4 and keeps the last of two
   * members, so a line in any other form could say different things to different parsers.
   */
  pushLine(text: string): void {
    this.lineNo += 1;
    if (text.trim().length === 0) {
      // Takes no place in the log: the file is still refused, but the indexes after it stay right.
      this.fail({
        ...(this.sawHeader ? { line: this.lineNo } : {}),
        code: 'BAD_BUNDLE',
        reason: `line ${this.lineNo} is ${text.length === 0 ? 'empty' : 'blank'}`,
      });
      return;
    }
    if (this.split !== null) {
      if (this.splitAbandoned || (this.paths !== null && this.splitLogLine(text))) return;
      // Review lines and the header are this verifier's own; any other line ends the split.
      if (this.sawHeader && !text.startsWith('{"kind":"review",')) {
        this.splitAbandoned = true;
        return;
      }
    } else if (this.paths !== null && this.fastEntryLine(text)) return;
    // A line whose bytes are not UTF-8 is unreadable like one that is not JSON.
    const value = text === NOT_UTF8_LINE ? UNREADABLE : parsedOrUnreadable(text);
    if (value === UNREADABLE) {
      // Header problems are the export's (line null); an entry line's carry its line number.
      const what = text === NOT_UTF8_LINE ? 'not UTF-8 text' : 'not JSON';
      this.fail({ ...(this.sawHeader ? { line: this.lineNo } : {}), code: 'BAD_BUNDLE', reason: `line ${this.lineNo} is ${what}` });
      if (!this.sawHeader) {
        this.sawHeader = true;
      } else {
        // An unreadable line still takes a place in the log.
        this.entryLines += 1;
        this.nextIndex += 1;
        this.keepInStep();
      }
      return;
    }
    if (!this.sawHeader) {
      this.sawHeader = true;
      if (!isCanonical(value, text)) this.fail({ code: 'BAD_BUNDLE', reason: notCanonical(this.lineNo, text) });
      this.header(value);
      return;
    }
    this.entry(value, text);
    this.keepInStep();
  }

  /**
   * After the header line alone: the export's signed head, when it verified under the pinned key
   * and nothing failed (what ranges of the file are verified under, export-range.ts); else null.
   */
  trustedHead(): { readonly head: TreeHead; readonly headJson: string } | null {
    return this.failureCount === 0 && this.head !== null && this.headJson !== null && this.lineNo === 1
      ? { head: this.head, headJson: this.headJson }
      : null;
  }

  /** End-of-file checks (count and root against the signed head) and the per-device verdicts. */
  finish(): ServerExportReport {
    // Entries after each device's last valid checkpoint: nothing stands for them, so each is verified itself.
    for (const chain of this.chains.values()) this.verifyPending(chain);
    // Audit paths whose right siblings are cut short by the tree's size: settled by the whole tree.
    this.paths?.finish(this.frontier, this.sha256);
    this.finishing = true;
    if (!this.sawHeader) this.fail({ code: 'BAD_BUNDLE', reason: 'the file is empty: no header line' });
    const head = this.head;
    if (head !== null) {
      if (this.entryLines < head.size) {
        this.fail({
          code: 'TRUNCATED_TAIL',
          reason: `the export holds ${this.entryLines} log entries but the signed tree head covers ${head.size}`,
        });
      } else if (this.entryLines > head.size) {
        this.fail({
          code: 'LOG_INDEX_MISMATCH',
          reason: `the export holds ${this.entryLines} log entries, more than the ${head.size} the signed tree head covers`,
        });
      } else if (this.frontier.size !== this.entryLines) {
        this.fail({
          code: 'LOG_ROOT_MISMATCH',
          reason: `${this.entryLines - this.frontier.size} line(s) carry no entry hash, so the signed root cannot be rebuilt`,
        });
      } else if (this.sodium.to_hex(this.frontier.root()) !== head.root) {
        this.fail({
          code: 'LOG_ROOT_MISMATCH',
          reason: `the entries rebuild root ${short(this.sodium.to_hex(this.frontier.root()))}, not the signed root ${short(head.root)}`,
        });
      } else {
        // The rebuilt tree is the signed one, so the audit paths it proved wrong are wrong. A tree
        // that is not (a leaf changed, missing or moved) proves nothing about them: the file fails
        // above, and --full hashes each path to say which are wrong.
        for (const w of this.wrongPaths) this.reportWrongPath(w.ref, w.count, w.lastLine);
        this.failureCount += this.wrongPathsUnkept;
      }
    }
    const devices = [...this.chains.values()].map((chain) => this.deviceReport(chain));
    const chainsOk = devices.every((d) => d.ok);
    return {
      format: SERVER_EXPORT_FORMAT,
      ok: this.failureCount === 0 && chainsOk && head !== null,
      serverKey: this.serverKey,
      treeHead: head,
      entries: this.entryLines,
      devices,
      reviews: this.reviews,
      failureCount: this.failureCount,
      // In file order: a device signature verified late (anchored mode) is reported at its line.
      failures: this.kept
        .map((f, i) => ({ f, at: f.line ?? (this.keptAtEnd.has(i) ? Infinity : 0), i }))
        .sort((a, b) => a.at - b.at || a.i - b.i)
        .map((x) => x.f),
    };
  }

  private deviceReport(chain: DeviceChain): ServerExportDevice {
    // No expected head, final checkpoint or freshness: the server holds whatever each device
    // had synced when the head was signed, which may end mid-session.
    const report = chain.verifier.finish();
    return {
      vault: chain.vault,
      device: chain.device,
      ok: report.ok && chain.logFailureCount === 0,
      entries: report.entries,
      head: report.head,
      failureCount: report.failureCount + chain.logFailureCount,
      failures: [...chain.logFailures, ...report.failures].sort((a, b) => (a.seq ?? -1) - (b.seq ?? -1)).slice(0, MAX_KEPT_FAILURES),
    };
  }

  /** Verifies the device signature of each pending entry of a chain, reporting those that fail, and forgets them. */
  private verifyPending(chain: DeviceChain): void {
    for (const p of chain.pending) {
      if (!this.verifySignature(p.hash, p.sig)) this.badDeviceSignature(chain, p);
    }
    chain.pending = [];
  }

  private badDeviceSignature(chain: DeviceChain, p: Pending): void {
    const reason = `signature 0 by ${short(p.sig.key)} does not verify`;
    this.fail({ line: p.line, vault: chain.vault, device: chain.device, seq: p.seq, code: 'BAD_SIGNATURE', reason });
    chain.logFailureCount += 1;
    if (chain.logFailures.length < MAX_KEPT_FAILURES) chain.logFailures.push({ seq: p.seq, code: 'BAD_SIGNATURE', reason });
  }

  /**
   * Anchored mode: whether this entry's device signature may wait for a later checkpoint of its
   * device, and what to check it with if none comes. Null: verify it now, in full.
   */
  private deferrable(raw: Readonly<Record<string, unknown>>, seq: number | null, hash: string | null): Pending | null {
    if (this.full || seq === null || hash === null || typeof raw.type !== 'string' || VERIFIED_ALONE.has(raw.type)) return null;
    const first = Array.isArray(raw.sigs) ? (raw.sigs[0] as unknown) : undefined;
    if (typeof first !== 'object' || first === null) return null;
    const { key, sig } = first as { key?: unknown; sig?: unknown };
    if (typeof key !== 'string' || typeof sig !== 'string') return null;
    return { line: this.lineNo, seq, hash, sig: { key, sig } };
  }

  private header(value: unknown): void {
    const parsed = headerSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.fail({
        code: 'BAD_BUNDLE',
        reason: `the first line is not a ${SERVER_EXPORT_FORMAT} v${SERVER_EXPORT_VERSION} header (${issue?.path.join('.') || 'header'}: ${issue?.message ?? 'schema mismatch'})`,
      });
      return;
    }
    if (parsed.data.serverKey !== this.serverKey) {
      this.fail({
        code: 'SERVER_KEY_MISMATCH',
        reason: `the export was made by server key ${short(parsed.data.serverKey)}, not the pinned ${short(this.serverKey)}`,
      });
    }
    const problem = treeHeadProblem(parsed.data.treeHead, this.serverKey, this.sodium);
    if (problem !== null) {
      this.fail({ code: 'BAD_TREE_HEAD', reason: problem });
      // Still read the rest, so the report shows what else is wrong; ok stays false.
    }
    const head = treeHeadSchema.safeParse(parsed.data.treeHead);
    if (head.success) {
      this.head = head.data;
      // Receipts are held to exactly this head only when it is the pinned server's; a bad head is one failure, not one per line.
      if (problem === null) {
        this.headJson = canonicalize(head.data);
        if (!this.full)
          this.paths = new StreamedAuditPaths<PathRef>(head.data.size, (ref, count, lastLine) => this.wrongPath(ref, count, lastLine));
      }
    }
  }

  /**
   * The checks to hand the chain verifier when the line is exactly the canonical JSON of its
   * record, or null when it is not. The entry is encoded once, and that body text is also what
   * gets hashed, so the check costs little more than the hash the chain verifier would compute.
   */
  private canonicalChecks(
    value: unknown,
    entry: Readonly<Record<string, unknown>>,
    receipt: unknown,
    text: string,
  ): PrecomputedChecks | undefined | null {
    let texts: { readonly body: string; readonly line: string };
    let receiptText: string;
    try {
      texts = canonicalEntryTexts(entry as unknown as SignedEntry);
      receiptText = canonicalize(receipt);
    } catch {
      // Not an entry or receipt canonical JSON can hold: the chain verifier or the receipt check says what is wrong.
      return isCanonical(value, text) ? undefined : null;
    }
    // A canonical line that still differs holds a member an entry has not: the chain verifier's shape check names it.
    if (exportEntryLine(texts.line, receiptText) !== text) return isCanonical(value, text) ? undefined : null;
    const sha256 = this.primitives?.sha256 ?? ((data: Uint8Array): Uint8Array => this.sodium.crypto_hash_sha256(data));
    // Signatures left empty are checked by the chain verifier itself.
    return { hash: bytesToHex(sha256(utf8.encode(texts.body))), signatures: [] };
  }

  /**
   * A review line: a reviewer's signed review, logged as its own leaf (leaf data = reviewHash).
   * Its signature must verify under review.reviewer and its receipt prove the recomputed hash at
   * the line's log index under the export's head; either way it takes its place in the log.
   */
  private review(value: unknown, text: string): void {
    const logIndex = this.nextIndex;
    this.nextIndex += 1;
    this.entryLines += 1;
    const line = this.lineNo;
    const problems: string[] = [];
    if (!isCanonical(value, text)) problems.push(notCanonical(line, text));
    const parsed = reviewLineSchema.parse(value);
    const signed = signedReviewSchema.safeParse({ review: parsed.review, signature: parsed.signature });
    const body = signed.success ? signed.data.review : null;
    let hash: string | null = null;
    if (!signed.success) {
      const issue = signed.error.issues[0];
      problems.push(`the review is malformed at ${issue?.path.join('.') || 'review'}: ${issue?.message ?? 'schema mismatch'}`);
    } else {
      hash = reviewHash(signed.data, this.sodium);
      if (!verifyReviewSignature(signed.data, this.sodium)) problems.push("the reviewer's signature does not verify over this review");
    }
    const receipt = reviewReceiptSchema.safeParse(parsed.receipt);
    // The leaf is the recomputed review hash: a changed review changes the root.
    const leaf = hash ?? null;
    if (leaf !== null) this.pushLeaf(hexToBytes(leaf));
    if (!receipt.success) problems.push('its receipt is malformed');
    else {
      const r = receipt.data;
      if (r.logIndex !== logIndex) {
        this.fail({
          line,
          code: 'LOG_INDEX_MISMATCH',
          reason: `line ${line} should hold log index ${logIndex} but its receipt says ${r.logIndex}: a line was dropped, repeated or moved`,
        });
        this.nextIndex = r.logIndex > logIndex ? r.logIndex + 1 : logIndex;
      }
      if (this.headJson !== null && canonicalize(r.treeHead) !== this.headJson)
        problems.push("its receipt is not under the export's signed head");
      else if (
        this.headJson !== null &&
        hash !== null &&
        !verifyInclusion(
          r.logIndex,
          r.treeHead.size,
          this.sodium.from_hex(hash),
          r.inclusionProof.map((h) => this.sodium.from_hex(h)),
          this.sodium.from_hex(r.treeHead.root),
          this.sodium,
          this.primitives?.sha256,
        )
      )
        problems.push('its inclusion proof does not lead from the review hash to the signed root');
    }
    for (const reason of problems) this.fail({ line, code: 'BAD_REVIEW', reason: `review line ${line}: ${reason}` });
    if (this.reviews.length < MAX_KEPT_FAILURES) {
      const raw = (typeof parsed.review === 'object' && parsed.review !== null ? parsed.review : {}) as Record<string, unknown>;
      this.reviews.push({
        line,
        logIndex,
        subject: body?.subject ?? null,
        reviewer: body?.reviewer ?? (typeof raw.reviewer === 'string' ? raw.reviewer : null),
        finding: body?.finding ?? null,
        ok: problems.length === 0,
      });
    }
  }

  /**
   * Anchored mode's reader for the common line: a canonical entry line (read by the journal's fast
   * entry-line reader) whose receipt is exactly `{"device":…,"entryHash":…,"inclusionProof":[…],
   * "logIndex":…,"seq":…,"treeHead":HEAD}` for this entry, at the next log index, under the
   * export's own head. Such a line is canonical JSON by construction, so it is never parsed whole,
   * re-encoded or schema-checked; its audit path is checked against the rebuilt tree. False: not
   * such a line, nothing done (the general path reads it and says what is wrong).
   */
  private fastEntryLine(text: string): boolean {
    const fast = this.readFastLine(text);
    if (fast === null) return false;
    const { receipt, read } = fast;
    const chain = this.chainOf(read.entry.vault, read.entry.device);
    this.logLine(text, receipt.count, receipt.seq, receipt.hash, chain);
    this.linesReadFast += 1;
    this.pushReadEntry(chain, read);
    return true;
  }

  /** An entry line in the server's exact layout (scanReceipt), its entry read and held to its receipt; null for any other line. */
  protected readFastLine(text: string) {
    const at = lastOccurrence(text, RECEIPT_START);
    if (at < 0) return null;
    const receipt = this.scanReceipt(text, at);
    if (receipt === null) return null;
    const read = this.readEntryAs(`${text.slice(0, at)}}`, receipt);
    return read === null ? null : { receipt, read };
  }

  /**
   * Split verification's reader: the log checks of fastEntryLine, with the entry part handed on
   * (to pushChainLine elsewhere) with what the receipt says it is; the chain verifier there reads
   * the entry and holds it to that.
   */
  private splitLogLine(text: string): boolean {
    const at = lastOccurrence(text, RECEIPT_START);
    if (at < 0) return false;
    const receipt = this.scanReceipt(text, at);
    if (receipt === null || !hexAt(receipt.device, 0, 64) || !hexAt(receipt.hash, 0, 64)) return false;
    const line = this.lineNo;
    this.logLine(text, receipt.count, receipt.seq, receipt.hash, null, receipt.device);
    this.split!({ line, text: `${text.slice(0, at)}}`, device: receipt.device, hash: receipt.hash, seq: receipt.seq });
    return true;
  }

  /**
   * The receipt of an entry line in exactly the layout the server writes, `{"device":…,
   * "entryHash":…,"inclusionProof":[…],"logIndex":…,"seq":…,"treeHead":HEAD}` at the next log
   * index under the export's own head, starting at `at` (RECEIPT_START); null for anything else.
   * The path hashes' offsets are left in this.offsets. With the entry part proven canonical, such
   * a line is canonical JSON by construction.
   */
  protected scanReceipt(text: string, at: number): { device: string; hash: string; seq: number; count: number } | null {
    const headJson = this.headJson;
    if (headJson === null || this.frontier.size !== this.nextIndex || this.nextIndex >= this.head!.size) return null;
    let i = at + RECEIPT_START.length;
    // Long runs are compared as slices: V8 compares whole strings much faster than startsWith walks them.
    if (!text.startsWith('","entryHash":"', i + 64)) return null;
    const device = text.slice(i, i + 64);
    i += 79;
    if (!text.startsWith('","inclusionProof":[', i + 64)) return null;
    const hash = text.slice(i, i + 64);
    i += 84;
    // Each path hash is a 64-character string; its characters are not checked here: a path is
    // right only if each hash equals the tree's node, which is hex, and anything else is reported.
    const offsets = this.offsets;
    let count = 0;
    if (text.charCodeAt(i) === 0x5d) i += 1;
    else
      for (;;) {
        if (count === offsets.length || text.charCodeAt(i) !== 0x22 || text.charCodeAt(i + 65) !== 0x22) return null;
        offsets[count++] = i + 1;
        const next = text.charCodeAt(i + 66);
        i += 67;
        if (next === 0x5d) break;
        if (next !== 0x2c) return null;
      }
    if (!text.startsWith(',"logIndex":', i)) return null;
    const indexEnd = integerEnd(text, i + 12);
    // integerEnd takes at most 16 digits; a number past 2^53 - 1 is never the next index or a seq.
    if (indexEnd < 0 || Number(text.slice(i + 12, indexEnd)) !== this.nextIndex || !text.startsWith(',"seq":', indexEnd)) return null;
    const seqEnd = integerEnd(text, indexEnd + 7);
    if (seqEnd < 0 || !text.startsWith(',"treeHead":', seqEnd)) return null;
    if (seqEnd + 12 + headJson.length + 2 !== text.length || text.slice(seqEnd + 12, -2) !== headJson || !text.endsWith('}}')) return null;
    const seq = Number(text.slice(indexEnd + 7, seqEnd));
    return Number.isSafeInteger(seq) ? { device, hash, seq, count } : null;
  }

  /** The log's part of a fast-read line: its place, its audit path (this.offsets) and its leaf. */
  protected logLine(text: string, count: number, seq: number, hash: string, chain: DeviceChain | null, device?: string): void {
    const logIndex = this.nextIndex;
    this.nextIndex += 1;
    this.entryLines += 1;
    const ref: PathRef = { line: this.lineNo, seq, chain: chain ?? { device: device ?? '', vault: '' } };
    if (!this.paths!.check(logIndex, text, this.offsets, count, ref)) this.wrongPath(ref, 1, ref.line);
    this.pushLeaf(hexToBytes(hash));
  }

  /**
   * Split verification, the chain side: one entry line handed on by splitLogLine, read by the
   * canonical entry-line reader and held to what its receipt said. False when it is not such a
   * line or anything about it fails (the whole file is then verified in one piece).
   */
  pushChainLine(entryLine: SplitEntryLine): boolean {
    this.lineNo = entryLine.line;
    const read = this.readEntryAs(entryLine.text, entryLine);
    if (read === null) return false;
    const before = this.failureCount;
    this.pushReadEntry(this.chainOf(read.entry.vault, read.entry.device), read);
    return this.failureCount === before;
  }

  /** The entry of a canonical entry line, when it is the one its receipt names (device, hash, seq); else null. */
  protected readEntryAs(entryLine: string, named: { readonly device: string; readonly hash: string; readonly seq: number }) {
    const read = readCanonicalEntryLine(entryLine);
    if (read === null) return null;
    const { device, hash, seq } = read.entry;
    return device === named.device && hash === named.hash && seq === named.seq ? read : null;
  }

  /** Hands an entry the canonical reader took (shape and depth checked, body cut from its line) to its device's chain. */
  protected pushReadEntry(chain: DeviceChain, read: NonNullable<ReturnType<typeof readCanonicalEntryLine>>): void {
    const { entry, body } = read;
    this.pushToChain(
      chain,
      entry as unknown as Record<string, unknown>,
      { hash: this.sha256TextHex(body), signatures: [], shallow: true, wellFormed: true },
      { line: this.lineNo, vault: entry.vault, device: entry.device, seq: entry.seq },
    );
  }

  /** Split verification, the chain side: every chain finished (device signatures still pending verified). */
  finishChains(): SplitChainsReport {
    for (const chain of this.chains.values()) this.verifyPending(chain);
    const devices = [...this.chains.values()].map((chain) => ({ ...this.deviceReport(chain), firstLine: chain.firstLine }));
    return { clean: this.failureCount === 0 && devices.every((d) => d.ok), devices };
  }

  /** An audit path the rebuilt tree proves wrong (`count` lines named the same wrong node, through `lastLine`): reported at the end, if the tree is the signed one. */
  protected wrongPath(ref: PathRef, count: number, lastLine: number): void {
    if (this.wrongPaths.length < MAX_KEPT_FAILURES) this.wrongPaths.push({ ref, count, lastLine });
    else this.wrongPathsUnkept += 1;
  }

  private reportWrongPath(ref: PathRef, count: number, lastLine: number): void {
    const { chain, seq, line } = ref;
    const more = count > 1 ? ` (nor do those of the ${count - 1} later entries through line ${lastLine} that name the same node)` : '';
    const reason = `inclusion proof of entry ${chain.device.slice(0, 8)}…#${seq} does not lead to the signed root${more}`;
    this.fail({ line, vault: chain.vault || null, device: chain.device, seq, code: 'BAD_RECEIPT', reason });
    if (!('logFailures' in chain)) return;
    chain.logFailureCount += 1;
    if (chain.logFailures.length < MAX_KEPT_FAILURES) chain.logFailures.push({ seq, code: 'BAD_RECEIPT', reason });
  }

  private entry(value: unknown, text: string): void {
    if (
      typeof value === 'object' &&
      value !== null &&
      (value as { kind?: unknown }).kind === 'review' &&
      reviewLineSchema.safeParse(value).success
    )
      return this.review(value, text);
    const logIndex = this.nextIndex;
    this.nextIndex += 1;
    this.entryLines += 1;
    const at = { line: this.lineNo };
    const parsed = lineSchema.safeParse(value);
    if (!parsed.success) {
      this.fail({ ...at, code: 'BAD_BUNDLE', reason: `line ${this.lineNo} is not an {"kind":"entry","entry":…,"receipt":…} line` });
      return;
    }
    const raw = parsed.data.entry;
    const vault = typeof raw.vault === 'string' ? raw.vault : null;
    const device = typeof raw.device === 'string' ? raw.device : null;
    const seq = Number.isSafeInteger(raw.seq) ? (raw.seq as number) : null;
    const hash = typeof raw.hash === 'string' && /^[0-9a-f]{64}$/.test(raw.hash) ? raw.hash : null;
    const where = { ...at, vault, device, seq };
    const chain = vault !== null && device !== null ? this.chainOf(vault, device) : undefined;
    const lineFail = (code: ServerExportFailureCode, reason: string): void => {
      this.fail({ ...where, code, reason });
      if (chain === undefined) return;
      chain.logFailureCount += 1;
      // The chain report's codes are the journal's; a log-only code is reported as the receipt problem it is.
      if (chain.logFailures.length < MAX_KEPT_FAILURES)
        chain.logFailures.push({ seq, code: isFailureCode(code) ? code : 'BAD_RECEIPT', reason });
    };

    // First, so a re-encoded line is named as such before anything read from it.
    const checks = this.canonicalChecks(value, raw, parsed.data.receipt, text);
    if (checks === null) lineFail('MALFORMED_ENTRY', notCanonical(this.lineNo, text));

    const receipt = receiptSchema.safeParse(parsed.data.receipt);
    // The leaf the server logged is the entry hash: the file's leaves must rebuild the signed root.
    // An entry without a readable hash already fails; its receipt's hash keeps the leaf count right.
    const leaf = hash ?? (receipt.success ? receipt.data.entryHash : null);
    if (leaf !== null) this.pushLeaf(hexToBytes(leaf));

    if (!receipt.success) {
      lineFail(
        'BAD_RECEIPT',
        receiptProblem(parsed.data.receipt, this.serverKey, this.sodium, undefined, this.primitives?.sha256) ?? 'receipt is malformed',
      );
    } else {
      const r = receipt.data;
      if (r.logIndex !== logIndex) {
        lineFail(
          'LOG_INDEX_MISMATCH',
          `line ${this.lineNo} should hold log index ${logIndex} but its receipt says ${r.logIndex}: a line was dropped, repeated or moved`,
        );
        // Resynchronise, so one dropped or moved line is one or two failures, not one per later line.
        this.nextIndex = r.logIndex > logIndex ? r.logIndex + 1 : logIndex;
      }
      if (r.device !== device || r.seq !== seq || r.entryHash !== hash) {
        lineFail('BAD_RECEIPT', `the receipt is for ${short(r.device)}#${r.seq} hash ${short(r.entryHash)}, not for this entry`);
      } else if (this.headJson === null) {
        // The header's head failed (reported once): there is no trusted root to prove this entry under.
      } else if (canonicalize(r.treeHead) !== this.headJson) {
        lineFail(
          'BAD_RECEIPT',
          `the receipt is under tree head ${r.treeHead.size}/${short(r.treeHead.root)}, not the export's signed head`,
        );
      } else {
        const problem = receiptProblem(r, this.serverKey, this.sodium, this.verifiedHeads, this.primitives?.sha256);
        if (problem !== null) lineFail('BAD_RECEIPT', problem);
      }
    }

    if (chain === undefined) {
      this.fail({ ...where, code: 'MALFORMED_ENTRY', reason: `line ${this.lineNo}: the entry names no vault or device` });
      return;
    }
    // A line that is not canonical is reported and skipped, as in a bundle (docs/journal-format.md, section 10).
    if (checks === null) return;
    this.pushToChain(chain, raw, checks, where);
  }

  /** The chain of a device, made on its first line. */
  protected chainOf(vault: string, device: string, options?: ChainVerifierOptions): DeviceChain {
    const key = `${vault}\n${device}`;
    let chain = this.chains.get(key);
    if (chain === undefined) {
      chain = {
        vault,
        device,
        firstLine: this.lineNo,
        verifier: new ChainVerifier({ ...options, ...(this.primitives === undefined ? {} : { primitives: this.primitives }) }),
        logFailures: [],
        logFailureCount: 0,
        pending: [],
      };
      this.chains.set(key, chain);
    }
    return chain;
  }

  /**
   * Hands a canonical entry to its device's chain verifier. `checks` undefined: the verifier
   * checks everything itself (the entry could not be encoded, so its shape check names why).
   */
  private pushToChain(
    chain: DeviceChain,
    raw: Readonly<Record<string, unknown>>,
    checks: PrecomputedChecks | undefined,
    where: { readonly line: number; readonly vault: string | null; readonly device: string | null; readonly seq: number | null },
  ): void {
    const { seq } = where;
    const hash = typeof raw.hash === 'string' && /^[0-9a-f]{64}$/.test(raw.hash) ? raw.hash : null;
    // The reverse key rule (no custodian key is any device key the journal used) is the chain verifier's (spec 6.1).
    // Anchored: the device signature stands as valid until this device's next checkpoint proves
    // (or fails to prove) the entry's hash; custodian signatures are verified by the chain verifier now.
    const deferred = checks === undefined ? null : this.deferrable(raw, seq, hash);
    const failures = chain.verifier.push(raw, deferred === null ? checks : { ...checks!, signatures: [true] });
    for (const f of failures) this.fail({ ...where, seq: f.seq ?? seq, code: f.code, reason: f.reason });
    if (deferred !== null) {
      // An entry reported as failing is checked in full at once.
      if (failures.length > 0) {
        if (!this.verifySignature(deferred.hash, deferred.sig)) this.badDeviceSignature(chain, deferred);
      } else chain.pending.push(deferred);
      if (chain.pending.length > MAX_PENDING) this.verifyPending(chain);
      return;
    }
    if (failures.length > 0) return;
    if (raw.type === ENTRY_TYPES.checkpoint) {
      // A valid checkpoint: its signature verified and its root is the root of every entry before
      // it, so it proves each pending entry's content as well as that entry's own signature would.
      chain.pending = [];
    }
  }

  private fail(failure: Partial<Omit<ServerExportFailure, 'code' | 'reason'>> & Pick<ServerExportFailure, 'code' | 'reason'>): void {
    this.failureCount += 1;
    if (this.kept.length < MAX_KEPT_FAILURES) {
      if (this.finishing) this.keptAtEnd.add(this.kept.length);
      this.kept.push({
        line: failure.line ?? null,
        vault: failure.vault ?? null,
        device: failure.device ?? null,
        seq: failure.seq ?? null,
        code: failure.code,
        reason: failure.reason,
      });
    }
  }
}

import { z } from 'zod';
import { sodiumNow, type Sodium } from '../sodium';
import { receiptProblem } from '../sync/receipt';
import { canonicalTextProblem, canonicalize, type JsonObject } from './canonical';
import { canonicalEntryTexts, type EntrySigner, type SignedEntry } from './entry';
import { bytesToHex } from './hex';
import { ENTRY_TYPES, HEX32, VAULT_ID } from './entry-types';
import { MAX_LINE_DEPTH, textDepthExceeds } from './limits';
import { sodiumPrimitives, type JournalPrimitives, type TextDigest } from './primitives';
import {
  ChainVerifier,
  type ChainVerifierOptions,
  type PrecomputedChecks,
  type RangeSummary,
  type VerificationFailure,
  type VerificationReport,
  type VerifyMode,
} from './verifier';

/**
 * The export bundle (docs/journal-format.md, "Export bundle"): one UTF-8 JSON Lines file. Every
 * line is the RFC 8785 canonical JSON of a record with a `kind`, in this order: one `header`,
 * the `custodian` roster, the `entry` records (each optionally followed by the server `receipt`
 * for it), and last the device-signed `manifest` naming each part's SHA-256.
 */
export const BUNDLE_FORMAT = 'halfkey-journal-bundle';
export const BUNDLE_VERSION = 1;
/** Domain-separation prefix of the manifest signature. */
export const MANIFEST_SIGNATURE_DOMAIN = 'halfkey/journal-manifest/v1\n';

export type BundlePart = 'roster' | 'entries' | 'receipts';

/** One custodian as the journal's own enrolment entries describe them; never a secret. */
export interface RosterMember {
  readonly id: string;
  readonly name: string;
  readonly organisation: string;
  readonly role: string;
  readonly signingKey: string;
  readonly enrolledAt: number;
  readonly revokedAt: number | null;
}

const partSchema = z.object({ sha256: z.string().regex(HEX32), lines: z.number().int().nonnegative() }).strict();
const seqSchema = z.number().int().nonnegative();
export const manifestSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    version: z.literal(BUNDLE_VERSION),
    vault: z.string().regex(VAULT_ID),
    device: z.string().regex(HEX32),
    signingKey: z.string().regex(HEX32),
    exportedAt: seqSchema,
    requested: z.object({ from: seqSchema, to: seqSchema.nullable() }).strict(),
    head: z.object({ seq: seqSchema, hash: z.string().regex(HEX32) }).strict(),
    complete: z.boolean(),
    lastCheckpoint: z
      .object({ seq: seqSchema, hash: z.string().regex(HEX32), root: z.string().regex(HEX32) })
      .strict()
      .nullable(),
    parts: z
      .object({
        roster: partSchema,
        entries: partSchema,
        receipts: partSchema,
        csv: z
          .object({ sha256: z.string().regex(HEX32), bytes: z.number().int().nonnegative() })
          .strict()
          .nullable(),
      })
      .strict(),
  })
  .strict();
export type BundleManifest = z.infer<typeof manifestSchema>;

const recordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('header'), format: z.literal(BUNDLE_FORMAT), version: z.literal(BUNDLE_VERSION) }).strict(),
  z
    .object({
      kind: z.literal('custodian'),
      custodian: z
        .object({
          id: z.string(),
          name: z.string(),
          organisation: z.string(),
          role: z.string(),
          signingKey: z.string(),
          enrolledAt: seqSchema,
          revokedAt: seqSchema.nullable(),
        })
        .strict(),
    })
    .strict(),
  z.object({ kind: z.literal('entry'), entry: z.unknown() }).strict(),
  z.object({ kind: z.literal('receipt'), receipt: z.unknown(), serverKey: z.string() }).strict(),
  z
    .object({ kind: z.literal('manifest'), manifest: z.unknown(), signature: z.object({ key: z.string(), sig: z.string() }).strict() })
    .strict(),
]);

/** How every canonical entry line begins (`entry` sorts before `kind`); a line nested too deep to parse is taken as an entry line when it begins so. */
export const ENTRY_LINE_START = '{"entry":';
/**
 * What a line reader passes on for a line whose bytes are not UTF-8 (section 9: a bundle is UTF-8
 * text byte for byte; such a line is BAD_BUNDLE and skipped). No line of a bundle can be this
 * text: JSON has no raw U+0000.
 */
export const NOT_UTF8_LINE = '\u0000 not UTF-8';

/** How every canonical receipt line begins. */
export const RECEIPT_LINE_START = '{"kind":"receipt","receipt":';

/** `{ kind: 'entry', entry }` and nothing else: the same acceptance as the schema's entry record. */
export function isEntryRecord(json: unknown): json is { kind: 'entry'; entry: unknown } {
  if (typeof json !== 'object' || json === null || Array.isArray(json) || Object.getPrototypeOf(json) !== Object.prototype) return false;
  const record = json as Record<string, unknown>;
  return record.kind === 'entry' && Object.keys(record).length === 2 && Object.hasOwn(record, 'entry');
}

const line = (record: JsonObject): string => `${canonicalize(record)}\n`;
export const headerLine = (): string => line({ kind: 'header', format: BUNDLE_FORMAT, version: BUNDLE_VERSION });
export const custodianLine = (member: RosterMember): string => line({ kind: 'custodian', custodian: { ...member } });
export const entryLine = (entry: SignedEntry): string => line({ kind: 'entry', entry: entry as unknown as JsonObject });
export const receiptLine = (receipt: JsonObject, serverKey: string): string => line({ kind: 'receipt', receipt, serverKey });

/** The bytes the manifest signature covers: the domain prefix, then the manifest's canonical JSON. */
export function manifestSignatureMessage(manifest: BundleManifest, sodium: Sodium = sodiumNow()): Uint8Array {
  return sodium.from_string(MANIFEST_SIGNATURE_DOMAIN + canonicalize(manifest));
}

/** The last line of a bundle: the manifest and the device's signature over it. */
export function manifestLine(manifest: BundleManifest, signer: EntrySigner, sodium: Sodium = sodiumNow()): string {
  const sig = sodium.to_hex(signer.sign(manifestSignatureMessage(manifest, sodium)));
  return line({ kind: 'manifest', manifest: manifest as unknown as JsonObject, signature: { key: signer.publicKey, sig } });
}

/** Incremental SHA-256 of a part: the UTF-8 bytes of its lines, newline included, in order. */
export class PartHash {
  private readonly hash: TextDigest;
  lines = 0;
  constructor(sodium: Sodium = sodiumNow(), primitives: JournalPrimitives = sodiumPrimitives(sodium)) {
    this.hash = primitives.textDigest();
  }
  add(text: string): void {
    this.hash.update(text);
    this.lines += 1;
  }
  /** `count` lines at once, already joined (each with its line feed), as text or as their UTF-8 bytes. */
  addLines(text: string | Uint8Array, count: number): void {
    this.hash.update(text);
    this.lines += count;
  }
  digest(): { sha256: string; lines: number } {
    return { sha256: this.hash.hex(), lines: this.lines };
  }
}

/** Builds the roster from the journal's own custodian.enrolled / custodian.revoked entries. */
export class RosterBuilder {
  private readonly byKey = new Map<string, RosterMember>();
  add(entry: SignedEntry): void {
    const d = entry.data;
    if (entry.type === ENTRY_TYPES.custodianEnrolled && typeof d.custodian === 'string' && typeof d.signingKey === 'string') {
      const text = (v: unknown): string => (typeof v === 'string' ? v : '');
      this.byKey.set(d.signingKey, {
        id: d.custodian,
        name: text(d.name),
        organisation: text(d.organisation),
        role: text(d.role),
        signingKey: d.signingKey,
        enrolledAt: entry.seq,
        revokedAt: null,
      });
    } else if (entry.type === ENTRY_TYPES.custodianRevoked && typeof d.signingKey === 'string') {
      const member = this.byKey.get(d.signingKey);
      if (member) this.byKey.set(d.signingKey, { ...member, revokedAt: entry.seq });
    }
  }
  members(): RosterMember[] {
    return [...this.byKey.values()].sort((a, b) => a.enrolledAt - b.enrolledAt);
  }
}

export interface BundleVerifyOptions extends Pick<ChainVerifierOptions, 'checkpointEvery' | 'heartbeatMs'> {
  /**
   * The server keys pinned by the reviewer (one, or every key on record after a server key
   * rotation); receipts under any other key fail. Unset: each receipt is checked under its own key.
   */
  readonly serverKeys?: readonly string[];
  /** SHA-256 of the CSV file shipped beside the bundle, when the reviewer has it. */
  readonly csvSha256?: string;
  /** Hash and signature primitives (default libsodium); the Node side passes node:crypto's. */
  readonly primitives?: JournalPrimitives;
  /** `anchored` (the default) or `full` (docs/journal-format.md, section 10.2). */
  readonly mode?: VerifyMode;
}

/**
 * A range's lines as the bundle verifier takes them: decoded, or as the file's bytes — every line
 * followed by its line feed, `count` lines, UTF-8 already proven (the range verifier decoded them
 * strictly) — with a way to decode them when the lines are needed one by one.
 */
export type RangeLines =
  readonly string[] | { readonly bytes: Uint8Array; readonly count: number; readonly lines: () => readonly string[] };

const isRangeBytes = (given: RangeLines): given is Exclude<RangeLines, readonly string[]> => !Array.isArray(given);

/**
 * A run of entry (and receipt) lines verified on its own (range-verify.ts) in which nothing
 * failed: what the bundle verifier needs besides the chain's summary to take it as verified.
 */
export interface BundleRange {
  readonly chain: RangeSummary;
  /** For each receipt line (its index among the range's lines), the entry line before it. */
  readonly before: readonly { readonly line: number; readonly seq: number; readonly hash: string }[];
  readonly last: { readonly seq: number; readonly hash: string };
  readonly lastCheckpoint: { readonly seq: number; readonly hash: string; readonly root: unknown } | null;
  /** Its custodian.enrolled and custodian.revoked entries, for the roster. */
  readonly roster: readonly SignedEntry[];
}

export interface BundleReport {
  readonly ok: boolean;
  readonly mode: VerifyMode;
  readonly manifest: BundleManifest | null;
  readonly requested: { readonly from: number; readonly to: number | null } | null;
  readonly found: { readonly from: number; readonly to: number } | null;
  readonly entries: number;
  readonly receipts: { readonly count: number; readonly valid: number };
  readonly roster: readonly RosterMember[];
  readonly chain: VerificationReport;
  /** Every failure: bundle structure, manifest, parts, receipts and the chain's own. */
  readonly failures: readonly VerificationFailure[];
  readonly failureCount: number;
}

/**
 * Verifies a bundle line by line with flat memory: the chain through ChainVerifier, receipts
 * against the entry they follow, then at the end the manifest signature (by the journal's own
 * current device key), each part's hash and line count, the roster and the expected head.
 */
export class BundleVerifier {
  private readonly chain: ChainVerifier;
  private readonly parts: Record<BundlePart, PartHash>;
  private readonly failures: VerificationFailure[] = [];
  private failureCount = 0;
  /**
   * Failures in the order full mode reports them, held while the chain's open range may still
   * add a device signature's failure to one of its entries (anchored mode): an entry's array is
   * kept by reference until then.
   */
  private out: (VerificationFailure | readonly VerificationFailure[])[] = [];
  readonly mode: VerifyMode;
  private readonly declaredRoster: RosterMember[] = [];
  private readonly roster = new RosterBuilder();
  private manifestRecord: { manifest: unknown; signature: { key: string; sig: string } } | null = null;
  private lineNo = 0;
  private stage: 'header' | 'roster' | 'entries' | 'done' = 'header';
  private last: { seq: number; hash: string } | null = null;
  private lastCheckpoint: { seq: number; hash: string; root: unknown } | null = null;
  private receiptCount = 0;
  private receiptsValid = 0;
  private readonly sodium: Sodium;
  private readonly primitives: JournalPrimitives;
  private readonly utf8 = new TextEncoder();

  constructor(private readonly options: BundleVerifyOptions = {}) {
    this.sodium = sodiumNow();
    const primitives = options.primitives ?? sodiumPrimitives(this.sodium);
    this.primitives = primitives;
    this.mode = options.mode ?? 'anchored';
    this.chain = new ChainVerifier({
      checkpointEvery: options.checkpointEvery,
      heartbeatMs: options.heartbeatMs,
      primitives,
      mode: this.mode,
    });
    this.parts = {
      roster: new PartHash(this.sodium, primitives),
      entries: new PartHash(this.sodium, primitives),
      receipts: new PartHash(this.sodium, primitives),
    };
  }

  /**
   * One line of the bundle, without its trailing newline. Every line must be the canonical JSON
   * of its record (section 9): JSON.parse reads `4.0` as 4 and keeps the last of two `seq`
   * members, so a line in any other form could say different things to different parsers.
   */
  pushLine(text: string, precomputed?: PrecomputedChecks): void {
    this.lineNo += 1;
    if (text === NOT_UTF8_LINE) return this.fail(null, 'BAD_BUNDLE', `line ${this.lineNo} is not UTF-8 text`);
    if (text.length === 0) return this.fail(null, 'BAD_BUNDLE', `line ${this.lineNo} is empty`);
    if (this.stage === 'done')
      return this.fail(null, 'BAD_BUNDLE', `line ${this.lineNo} follows the manifest: a bundle ends with its manifest`);
    // Before the parser or anything recursive sees it (section 2.2).
    if (textDepthExceeds(text, MAX_LINE_DEPTH)) {
      if (!text.startsWith(ENTRY_LINE_START))
        return this.fail(null, 'BAD_BUNDLE', `line ${this.lineNo} is nested deeper than ${MAX_LINE_DEPTH} levels`);
      this.stage = 'entries';
      this.parts.entries.add(`${text}\n`);
      this.chain.taintRange();
      return this.fail(null, 'MALFORMED_ENTRY', `line ${this.lineNo}: the entry is nested deeper than ${MAX_LINE_DEPTH - 1} levels`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.fail(null, 'BAD_BUNDLE', `line ${this.lineNo} is not JSON`);
    }
    // Entry lines are nearly all of a bundle: their record shape is checked by hand (the entry
    // itself is checked by the chain verifier); any other line, or an odd one, goes to the schema.
    const parsed = isEntryRecord(json) ? ({ success: true, data: json } as const) : recordSchema.safeParse(json);
    if (!parsed.success)
      return this.fail(
        null,
        'BAD_BUNDLE',
        `line ${this.lineNo} is not a bundle record: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim(),
      );
    const record = parsed.data;
    // Entry lines (nearly all of a bundle) are compared in entryChecks, sharing the body's encoding.
    if (record.kind !== 'entry' && !isCanonical(json, text))
      this.fail(
        null,
        'BAD_BUNDLE',
        `line ${this.lineNo} is not canonical JSON: ${canonicalTextProblem(text) ?? 'it differs from the canonical form'}`,
      );
    if (this.stage === 'header' && record.kind !== 'header') {
      // Reported once (section 10.5); what follows is read as if the header had been there.
      this.fail(null, 'BAD_BUNDLE', 'the bundle does not start with a header line');
      this.stage = 'roster';
    }
    switch (record.kind) {
      case 'header':
        if (this.stage !== 'header') this.fail(null, 'BAD_BUNDLE', `a second header at line ${this.lineNo}`);
        this.stage = 'roster';
        return;
      case 'custodian':
        if (this.stage !== 'roster') this.fail(null, 'BAD_BUNDLE', `custodian record at line ${this.lineNo} after the entries began`);
        this.parts.roster.add(`${text}\n`);
        this.declaredRoster.push(record.custodian);
        return;
      case 'entry': {
        this.stage = 'entries';
        this.parts.entries.add(`${text}\n`);
        // Not an object (`"entry":null`): the chain verifier reports it; nothing here may read it.
        const e = (typeof record.entry === 'object' && record.entry !== null ? record.entry : {}) as Partial<SignedEntry>;
        const checks = this.entryChecks(record.entry, text, precomputed);
        if (checks === null) {
          // Malformed (section 10, step 1): reported and skipped, like an entry of the wrong shape.
          const seq = Number.isSafeInteger(e.seq) ? e.seq! : null;
          this.chain.taintRange();
          return this.fail(
            seq,
            'MALFORMED_ENTRY',
            `line ${this.lineNo} is not canonical JSON: ${canonicalTextProblem(text) ?? 'it differs from the canonical form'}`,
          );
        }
        this.emit(this.chain.push(record.entry, checks));
        if (typeof e.seq === 'number' && typeof e.hash === 'string') this.last = { seq: e.seq, hash: e.hash };
        if (e.type === ENTRY_TYPES.checkpoint && typeof e.seq === 'number' && typeof e.hash === 'string')
          this.lastCheckpoint = { seq: e.seq, hash: e.hash, root: e.data?.root };
        if (
          (e.type === ENTRY_TYPES.custodianEnrolled || e.type === ENTRY_TYPES.custodianRevoked) &&
          typeof e.data === 'object' &&
          e.data !== null
        )
          this.roster.add(e as SignedEntry);
        return;
      }
      case 'receipt':
        this.parts.receipts.add(`${text}\n`);
        this.checkReceipt(record.receipt, record.serverKey);
        return;
      case 'manifest':
        this.manifestRecord = { manifest: record.manifest, signature: record.signature };
        this.stage = 'done';
        return;
      default: {
        const never: never = record;
        return never;
      }
    }
  }

  /**
   * The precomputed checks to pass to the chain verifier, or null when the line is not the
   * canonical JSON of its entry record. Parallel workers answer that themselves (checkLine);
   * otherwise the line is encoded here once, and that body text is also what gets hashed.
   */
  private entryChecks(entry: unknown, text: string, precomputed: PrecomputedChecks | undefined): PrecomputedChecks | undefined | null {
    if (precomputed?.canonical !== undefined) return precomputed.canonical ? precomputed : null;
    let texts: { body: string; line: string };
    try {
      texts = canonicalEntryTexts(entry as SignedEntry);
    } catch {
      // Not an entry object at all: the line may still be canonical, and the shape check says what is wrong.
      return isCanonical({ entry, kind: 'entry' }, text) ? precomputed : null;
    }
    if (texts.line !== text) return null;
    // Signatures left empty are checked by the chain verifier itself.
    return precomputed ?? { hash: bytesToHex(this.primitives.sha256(this.utf8.encode(texts.body))), signatures: [], shallow: true };
  }

  /**
   * Takes a run of lines verified on its own (range-verify.ts) as verified, when the chain can
   * join it (ChainVerifier.joinRange); its receipt lines are checked here. Returns false, having
   * changed nothing, when it cannot: the caller then pushes the lines one by one.
   */
  absorbRange(given: RangeLines, range: BundleRange): boolean {
    if (this.stage !== 'roster' && this.stage !== 'entries') return false;
    const open = this.chain.joinRange(range.chain);
    if (open === null) return false;
    this.stage = 'entries';
    if (range.before.length === 0) {
      // Entry lines only (the usual case): hashed into their part in one piece.
      const count = isRangeBytes(given) ? given.count : given.length;
      this.lineNo += count;
      this.parts.entries.addLines(isRangeBytes(given) ? given.bytes : `${given.join('\n')}\n`, count);
      for (const failures of open) this.emit(failures);
    } else {
      const lines = isRangeBytes(given) ? given.lines() : given;
      let entryLines = 0;
      const firstOpen = lines.length - range.before.length - open.length;
      let receipt = 0;
      for (let i = 0; i < lines.length; i++) {
        const text = lines[i]!;
        const before = range.before[receipt];
        if (before !== undefined && before.line === i) {
          receipt += 1;
          this.last = { seq: before.seq, hash: before.hash };
          this.pushLine(text);
          continue;
        }
        this.lineNo += 1;
        this.parts.entries.add(`${text}\n`);
        if (entryLines >= firstOpen) this.emit(open[entryLines - firstOpen]!);
        entryLines += 1;
      }
    }
    this.last = range.last;
    if (range.lastCheckpoint !== null) this.lastCheckpoint = range.lastCheckpoint;
    for (const e of range.roster) this.roster.add(e);
    if (this.chain.pendingCount() === 0) this.flush();
    return true;
  }

  /** Whether a range verified on its own could join here now: the header is read and the entries have begun or may begin. */
  acceptsRanges(): boolean {
    return (this.stage === 'roster' || this.stage === 'entries') && this.chain.state().deviceKey !== null;
  }

  /** The chain's state, for a range verifier's starting context, and its leaf count. */
  chainState(): ReturnType<ChainVerifier['state']> {
    return this.chain.state();
  }

  leafCount(): number {
    return this.chain.leafCount();
  }

  /** An entry's failures from the chain: kept now, or queued behind the open range's entries. */
  private emit(failures: readonly VerificationFailure[]): void {
    this.out.push(failures);
    if (this.chain.pendingCount() === 0) this.flush();
  }

  private flush(): void {
    for (const item of this.out) {
      if (Array.isArray(item)) for (const f of item as readonly VerificationFailure[]) this.keep(f);
      else this.keep(item as VerificationFailure);
    }
    this.out = [];
  }

  /**
   * Ends the bundle. `unterminated`: the file's last line had no line feed, so the file was cut
   * short (every line ends with one, the manifest's included).
   */
  finish(options: { unterminated?: boolean } = {}): BundleReport {
    // No checkpoint follows the open range: it is verified in full, its failures in their places.
    this.chain.closeRange();
    this.flush();
    if (options.unterminated) this.fail(null, 'BAD_BUNDLE', `line ${this.lineNo} has no line feed: the file was cut short`);
    const chainState = this.chain.state();
    let manifest: BundleManifest | null = null;
    if (this.manifestRecord === null) {
      this.fail(null, 'BAD_BUNDLE', 'the bundle has no manifest line: it was cut short');
    } else {
      const parsed = manifestSchema.safeParse(this.manifestRecord.manifest);
      if (!parsed.success)
        this.fail(null, 'BAD_BUNDLE', `the manifest is malformed at ${parsed.error.issues[0]?.path.join('.') ?? 'manifest'}`);
      else manifest = parsed.data;
    }
    if (manifest !== null && this.manifestRecord !== null) this.checkManifest(manifest, this.manifestRecord.signature, chainState);
    const chain = this.chain.finish(manifest === null ? {} : { expectHead: manifest.head, requireFinalCheckpoint: manifest.complete });
    for (const f of chain.failures.slice(chain.failures.length - (chain.failureCount - chainState.failureCount))) this.keep(f);
    if (manifest !== null && chain.head !== null) this.checkManifestClaims(manifest, chain.head.seq);
    return {
      ok: this.failureCount === 0,
      mode: this.mode,
      manifest,
      requested: manifest?.requested ?? null,
      found: chain.firstSeq === null || chain.head === null ? null : { from: chain.firstSeq, to: chain.head.seq },
      entries: chain.entries,
      receipts: { count: this.receiptCount, valid: this.receiptsValid },
      roster: this.declaredRoster,
      chain,
      failures: [...this.failures],
      failureCount: this.failureCount,
    };
  }

  private checkManifest(
    manifest: BundleManifest,
    signature: { key: string; sig: string },
    chain: ReturnType<ChainVerifier['state']>,
  ): void {
    const s = this.sodium;
    let signed = false;
    try {
      signed =
        signature.key === manifest.signingKey &&
        HEX32.test(signature.key) &&
        /^[0-9a-f]{128}$/.test(signature.sig) &&
        s.crypto_sign_verify_detached(s.from_hex(signature.sig), manifestSignatureMessage(manifest, s), s.from_hex(signature.key));
    } catch {
      signed = false;
    }
    if (!signed) this.fail(null, 'BAD_MANIFEST_SIGNATURE', 'the manifest signature does not verify under its signing key');
    else if (chain.deviceKey !== null && manifest.signingKey !== chain.deviceKey) {
      this.fail(
        null,
        'BAD_MANIFEST_SIGNATURE',
        `the manifest is signed by ${manifest.signingKey.slice(0, 12)}…, not by the journal's current device key ${chain.deviceKey.slice(0, 12)}…`,
      );
    }
    if (chain.vault !== null && manifest.vault !== chain.vault)
      this.fail(null, 'WRONG_VAULT', `the manifest names vault ${manifest.vault}, the entries are vault ${chain.vault}'s`);
    if (chain.device !== null && manifest.device !== chain.device)
      this.fail(null, 'WRONG_DEVICE', 'the manifest names another device than the entries');
    for (const part of ['roster', 'entries', 'receipts'] as const) {
      const got = this.parts[part].digest();
      const want = manifest.parts[part];
      if (got.sha256 !== want.sha256 || got.lines !== want.lines) {
        this.fail(
          null,
          'PART_HASH_MISMATCH',
          `part ${part}: manifest says ${want.lines} lines with SHA-256 ${want.sha256.slice(0, 12)}…, the bundle has ${got.lines} lines with ${got.sha256.slice(0, 12)}…`,
        );
      }
    }
    if (this.options.csvSha256 !== undefined && manifest.parts.csv?.sha256 !== this.options.csvSha256) {
      this.fail(null, 'PART_HASH_MISMATCH', 'the CSV file does not have the SHA-256 the manifest names');
    }
    if (canonicalize(this.roster.members() as unknown as JsonObject[]) !== canonicalize(this.declaredRoster as unknown as JsonObject[])) {
      this.fail(null, 'ROSTER_MISMATCH', 'the roster does not match the custodian.enrolled / custodian.revoked entries');
    }
  }

  /**
   * What the manifest says about the entries beyond the head (checked by the chain verifier):
   * the last checkpoint the report prints and encodes as a QR code, and the requested range.
   */
  private checkManifestClaims(manifest: BundleManifest, headSeq: number): void {
    const claimed = manifest.lastCheckpoint;
    const found = this.lastCheckpoint;
    const describe = (c: { seq: number; hash: string; root: unknown } | null): string =>
      c === null ? 'none' : `seq ${c.seq}, hash ${c.hash.slice(0, 12)}…, root ${String(c.root).slice(0, 12)}…`;
    if (
      canonicalize(claimed) !==
      canonicalize(found === null ? null : { seq: found.seq, hash: found.hash, root: typeof found.root === 'string' ? found.root : null })
    ) {
      this.fail(
        null,
        'MANIFEST_MISMATCH',
        `the manifest's lastCheckpoint (${describe(claimed)}) is not the bundle's last checkpoint entry (${describe(found)})`,
      );
    }
    const { from, to } = manifest.requested;
    if (from > headSeq)
      this.fail(null, 'MANIFEST_MISMATCH', `the requested range starts at seq ${from}, after the bundle's last entry (seq ${headSeq})`);
    if (to !== null && to < from)
      this.fail(null, 'MANIFEST_MISMATCH', `the requested range ends at seq ${to}, before it starts (seq ${from})`);
    if (to === null && !manifest.complete)
      this.fail(
        null,
        'MANIFEST_MISMATCH',
        'the requested range runs to the end of the journal, but the manifest says the bundle is not complete',
      );
    if (to !== null && !manifest.complete && to !== headSeq)
      this.fail(null, 'MANIFEST_MISMATCH', `the requested range ends at seq ${to}, but the bundle's entries end at seq ${headSeq}`);
  }

  private checkReceipt(receipt: unknown, serverKey: string): void {
    this.receiptCount += 1;
    const r = receipt as { seq?: unknown; entryHash?: unknown; device?: unknown };
    const seq = typeof r.seq === 'number' ? r.seq : null;
    const pinned = this.options.serverKeys ?? [];
    if (pinned.length > 0 && !pinned.includes(serverKey))
      return this.fail(seq, 'BAD_RECEIPT', `receipt is under a server key other than the pinned one${pinned.length > 1 ? 's' : ''}`);
    const problem = receiptProblem(receipt, serverKey, this.sodium);
    if (problem !== null) return this.fail(seq, 'BAD_RECEIPT', problem);
    const device = this.chain.state().device;
    if (device !== null && r.device !== device) return this.fail(seq, 'BAD_RECEIPT', 'the receipt is for another device');
    if (this.last === null || seq !== this.last.seq)
      return this.fail(seq, 'BAD_RECEIPT', 'a receipt must directly follow the entry it is for');
    if (r.entryHash !== this.last.hash)
      return this.fail(
        seq,
        'FORK',
        `the server logged hash ${String(r.entryHash).slice(0, 12)}… for seq ${seq}, the bundle has ${this.last.hash.slice(0, 12)}…`,
      );
    this.receiptsValid += 1;
  }

  private fail(seq: number | null, code: VerificationFailure['code'], reason: string): void {
    if (this.out.length > 0) this.out.push({ seq, code, reason });
    else this.keep({ seq, code, reason });
  }

  private keep(failure: VerificationFailure): void {
    this.failureCount += 1;
    if (this.failures.length < 1_000) this.failures.push(failure);
  }
}

/** Whether a line is exactly the canonical JSON of the value parsed from it. */
function isCanonical(json: unknown, text: string): boolean {
  try {
    return canonicalize(json) === text;
  } catch {
    return false;
  }
}

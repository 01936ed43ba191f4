import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { AcknowledgementView, AlarmView, IncidentView, ReviewEntryView } from '../../shared/api/channels/review';
import { HalfkeyError } from '../../shared/api/result';
import { canonicalize } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import { bytesToHex } from '../../shared/journal/hex';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import { treeHeadSchema, type TreeHead } from '../../shared/sync/receipt';
import {
  acknowledgeReviewResponseSchema,
  incidentSchema,
  reviewAlarmSchema,
  reviewSignatureMessage,
  type Acknowledgement,
  type ReviewBody,
  type ReviewFinding,
  type ReviewSubject,
  type SignedReview,
} from '../../shared/sync/review-wire';
import type { ServerExportReport } from '../../shared/sync/server-export';
import { challengeResponseSchema, reviewerChallengeMessage, sessionResponseSchema, wireErrorSchema } from '../../shared/sync/wire';
import { verifyServerExportFile } from '../sync/server-export-file';
import type { SyncService } from '../sync/sync-service';
import { sendRequest, ServerUnreachable } from '../sync/transport';
import type { UnlockedCustodian } from '../vault/custodians';
import type { Vault } from '../vault/vault';
import { acknowledgementProblems, answerHeadProblem, checkEvidence, shown } from './review-verify';

/** The server's refusals of a reviewer key are refusals by rule (exit 3 in the CLI), like other refusals. */
const REFUSALS: Readonly<Record<string, HalfkeyError['code']>> = {
  NOT_A_REVIEWER: 'NOT_PERMITTED',
  CHALLENGE_INVALID: 'NOT_PERMITTED',
  SESSION_INVALID: 'NOT_PERMITTED',
  NOT_FOUND: 'NOT_FOUND',
  NOT_PERMITTED: 'NOT_PERMITTED',
};

/** How many pages acknowledge() reads to find its subject (the open queue first, then every item). */
const FIND_PAGES = 40;
const FIND_PAGE_SIZE = 200;

type ViewState = 'open' | 'all';
export interface ViewRequest {
  readonly state: ViewState;
  readonly limit: number;
  readonly after?: string | undefined;
}
interface ViewAnswer<T> {
  readonly serverFingerprint: string;
  readonly treeHead: TreeHead | null;
  readonly headProblem: string | null;
  readonly next: string | null;
  readonly items: T[];
}

function refusal(what: string, status: number, body: unknown): HalfkeyError {
  const parsed = wireErrorSchema.safeParse(body);
  if (!parsed.success) return new HalfkeyError('SYNC_FAILED', `${what}: the server answered HTTP ${status} without an error body.`);
  const { code, message } = parsed.data.error;
  return new HalfkeyError(REFUSALS[code] ?? 'SYNC_FAILED', `${what}: the server refused (${code}): ${message}.`, { code });
}

export interface ReviewServiceOptions {
  /** How long the export download may take (default 10 minutes). */
  readonly exportTimeoutMs?: number;
}

/**
 * What a reviewer does against the central server with their custodian key: sign in
 * (challenge–response, docs/sync-protocol.md "Reviewers") and fetch the org-wide export, checked
 * against the server key this vault pinned at enrolment before it is kept; the incidents and
 * alarms of the review queue, checked offline before they are shown, and their acknowledgement
 * with a review signed by the reviewer's key (docs/sync-protocol.md "Reviewers").
 */
export class ReviewService {
  constructor(
    /** The open vault, or a HalfkeyError saying how to open one. */
    private readonly vault: () => Vault,
    private readonly sync: SyncService,
    private readonly options: ReviewServiceOptions = {},
  ) {}

  /**
   * Downloads the org-wide export as reviewer `by` (unlocked in this session) to `out`: streamed
   * to `out.part`, verified under the pinned server key, then renamed, so a half-downloaded export
   * never sits under the name asked for. An export that does not verify is still renamed (it is
   * evidence); the report says it failed.
   */
  async exportOrgWide(by: string, out: string): Promise<{ out: string; serverFingerprint: string; report: ServerExportReport }> {
    const { reviewer, pinned } = this.reviewer(by);
    const partial = `${out}.part`;
    try {
      const token = await this.signIn(pinned.url, reviewer);
      await this.download(pinned.url, token, partial);
      const report = await verifyServerExportFile(partial, pinned.key);
      renameSync(partial, out);
      return { out, serverFingerprint: pinned.fingerprint, report };
    } catch (error) {
      rmSync(partial, { force: true });
      if (error instanceof ServerUnreachable) throw new HalfkeyError('SYNC_FAILED', `The export was not downloaded: ${error.message}.`);
      throw error;
    }
  }

  /** The server's incidents, each checked offline under the pinned server key (review-verify.ts). */
  async incidents(by: string, view: ViewRequest): Promise<ViewAnswer<IncidentView>> {
    const { reviewer, pinned } = this.reviewer(by);
    return this.view(reviewer, pinned, 'incidents', view, (raw, check) => this.incidentView(raw, check, reviewer));
  }

  /** The server's alarms, each checked offline as incidents are. */
  async alarms(by: string, view: ViewRequest): Promise<ViewAnswer<AlarmView>> {
    const { reviewer, pinned } = this.reviewer(by);
    return this.view(reviewer, pinned, 'alarms', view, (raw, check) => this.alarmView(raw, check, reviewer));
  }

  /**
   * Acknowledges an incident or alarm with a review signed by `by`'s key. The subject is read from
   * the server and checked first: refused (nothing sent) when its evidence does not verify, or when
   * this reviewer's key signed an entry behind it. The stored acknowledgement that comes back is
   * checked too; `already` says the subject had been acknowledged before (it is then the first one).
   */
  async acknowledge(
    by: string,
    request: { readonly subject: ReviewSubject; readonly finding: ReviewFinding; readonly rotationDone: boolean; readonly text: string },
  ): Promise<{ acknowledgement: AcknowledgementView; already: boolean }> {
    const { reviewer, pinned } = this.reviewer(by);
    const { subject } = request;
    const item = await this.find(reviewer, subject);
    if (item.ownKeySigned) {
      throw new HalfkeyError(
        'NOT_PERMITTED',
        `Your own key signed an entry behind ${subject.kind} ${subject.id}: a reviewer may not acknowledge their own break-glass; another reviewer must.`,
        { rule: 'own-break-glass' },
      );
    }
    if (!item.verified) {
      throw new HalfkeyError(
        'CONFLICT',
        `The evidence of ${subject.kind} ${subject.id} does not verify on this machine (${item.problems[0] ?? 'unknown reason'}), so it was not acknowledged: report it instead.`,
        { rule: 'evidence-failed' },
      );
    }
    const sodium = await sodiumReady();
    const body: ReviewBody = {
      subject,
      finding: request.finding,
      rotationDone: request.rotationDone,
      text: request.text,
      reviewer: reviewer.signer.publicKey,
      time: Date.now(),
    };
    const signed: SignedReview = { review: body, signature: bytesToHex(reviewer.signer.sign(reviewSignatureMessage(body))) };
    const answer = await this.authed(
      reviewer,
      pinned.url,
      { method: 'POST', path: '/v1/reviewer/acknowledge', json: signed },
      'Acknowledgement',
    );
    const parsed = acknowledgeReviewResponseSchema.safeParse(answer);
    if (!parsed.success)
      throw new HalfkeyError('SYNC_FAILED', 'The server answered the acknowledgement with something that is not a stored acknowledgement.');
    const view = this.acknowledgementView(parsed.data.acknowledgement, subject, pinned.key, sodium);
    // A fresh acknowledgement must be exactly the review signed here; a repeat answers the first one.
    if (!parsed.data.already && canonicalize(parsed.data.acknowledgement.review) !== canonicalize(signed))
      view.problems.push('the server stored a review other than the one signed here');
    view.verified = view.problems.length === 0;
    return { acknowledgement: view, already: parsed.data.already };
  }

  /** The unlocked reviewer and the pinned server, or the refusal in words. */
  private reviewer(by: string): { reviewer: UnlockedCustodian; pinned: { url: string; key: string; fingerprint: string } } {
    const reviewer = this.vault().custodians.unlocked(by);
    if (reviewer.role !== 'reviewer') {
      throw new HalfkeyError(
        'NOT_PERMITTED',
        `Custodian ${reviewer.id} is enrolled as ${reviewer.role}, not as a reviewer: only a reviewer's key signs in to the server's review.`,
        { rule: 'reviewer-only' },
      );
    }
    const pinned = this.sync.pinnedServer();
    if (pinned === null) {
      throw new HalfkeyError(
        'SYNC_FAILED',
        'This vault is not enrolled with a sync server, so no server key is pinned to check the review against: enrol it first (halfkey sync --enroll).',
      );
    }
    return { reviewer, pinned };
  }

  /** Reads the subject from the server's views (the open queue first, then every item) and checks it. */
  private async find(reviewer: UnlockedCustodian, subject: ReviewSubject): Promise<IncidentView | AlarmView> {
    for (const state of ['open', 'all'] as const) {
      let after: string | undefined;
      for (let page = 0; page < FIND_PAGES; page++) {
        const answer =
          subject.kind === 'incident'
            ? await this.incidents(reviewer.id, { state, limit: FIND_PAGE_SIZE, after })
            : await this.alarms(reviewer.id, { state, limit: FIND_PAGE_SIZE, after });
        const found = (answer.items as (IncidentView | AlarmView)[]).find((i) => i.id === subject.id);
        if (found !== undefined) return found;
        if (answer.next === null) break;
        after = answer.next;
      }
    }
    throw new HalfkeyError('NOT_FOUND', `The server lists no ${subject.kind} ${subject.id}.`);
  }

  private async view<T>(
    reviewer: UnlockedCustodian,
    pinned: { url: string; key: string; fingerprint: string },
    what: 'incidents' | 'alarms',
    view: ViewRequest,
    build: (raw: unknown, check: ItemCheck) => T,
  ): Promise<ViewAnswer<T>> {
    const sodium = await sodiumReady();
    const query = new URLSearchParams({
      state: view.state,
      limit: String(view.limit),
      ...(view.after === undefined ? {} : { after: view.after }),
    });
    const body = await this.authed(
      reviewer,
      pinned.url,
      { method: 'GET', path: `/v1/reviewer/${what}?${query.toString()}` },
      'The review queue',
    );
    const envelope = body as Record<string, unknown> | null;
    const rawItems = envelope?.[what];
    if (envelope === null || typeof envelope !== 'object' || !Array.isArray(rawItems))
      throw new HalfkeyError('SYNC_FAILED', `The server answered with something that is not a list of ${what}.`);
    if (rawItems.length > view.limit)
      throw new HalfkeyError('SYNC_FAILED', `The server answered ${rawItems.length} ${what} where at most ${view.limit} were asked for.`);
    const headParsed = envelope.treeHead === null ? null : treeHeadSchema.safeParse(envelope.treeHead);
    const treeHead = headParsed === null || !headParsed.success ? null : headParsed.data;
    const headProblem =
      headParsed !== null && !headParsed.success ? "the answer's tree head is malformed" : answerHeadProblem(treeHead, pinned.key, sodium);
    const next = typeof envelope.next === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(envelope.next) ? envelope.next : null;
    const check: ItemCheck = {
      head: headProblem === null ? treeHead : null,
      headProblem,
      serverKey: pinned.key,
      sodium,
      verifiedHeads: new Set(),
    };
    return { serverFingerprint: pinned.fingerprint, treeHead, headProblem, next, items: rawItems.map((raw) => build(raw, check)) };
  }

  private incidentView(raw: unknown, check: ItemCheck, reviewer: UnlockedCustodian): IncidentView {
    const parsed = incidentSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? shown((raw as { id: string }).id).slice(0, 128) : '(no id)';
      return {
        id,
        device: '',
        vault: '',
        session: '',
        account: null,
        reference: null,
        reason: null,
        severity: null,
        outcome: null,
        openedAt: 0,
        updatedAt: 0,
        state: 'open',
        entries: [],
        acknowledgement: null,
        ownKeySigned: false,
        verified: false,
        problems: [`the incident is malformed: ${issueText(parsed.error.issues[0])}`],
      };
    }
    const i = parsed.data;
    const { entries, signed, problems } = this.evidence(i.entries, check, i.device);
    const first = signed[0];
    if (first === undefined) problems.push('the incident has no signed entries behind it');
    else if (first.hash !== i.id) problems.push('the incident id is not the hash of its first entry');
    for (const e of signed) {
      if (e.vault !== i.vault) problems.push(`entry #${e.seq} is of another vault than the incident`);
      const session = e.data.session ?? e.data.breakGlassSession;
      if ((session !== undefined || e.type.startsWith('break-glass.')) && session !== i.session)
        problems.push(`entry #${e.seq} is of another session than the incident`);
    }
    // What the list shows of the incident must be what its signed `break-glass.opened` says.
    const opened = signed.find((e) => e.type === 'break-glass.opened');
    if (opened !== undefined) {
      for (const field of ['reference', 'reason', 'severity'] as const) {
        if ((opened.data[field] ?? null) !== i[field]) problems.push(`the incident's ${field} is not the one its opening entry signed`);
      }
      if (opened.data.account !== undefined && opened.data.account !== i.account)
        problems.push("the incident's account is not the one its opening entry signed");
    }
    const closed = signed.find((e) => e.type === 'break-glass.closed');
    if ((closed?.data.outcome ?? null) !== i.outcome) problems.push("the incident's outcome is not the one its closing entry signed");
    const ack = this.acknowledgementFor(i.acknowledgement, i.state, { kind: 'incident', id: i.id }, check, problems);
    return {
      id: i.id,
      device: i.device,
      vault: i.vault,
      session: shown(i.session),
      account: nullableShown(i.account),
      reference: nullableShown(i.reference),
      reason: nullableShown(i.reason),
      severity: nullableShown(i.severity),
      outcome: nullableShown(i.outcome),
      openedAt: i.openedAt,
      updatedAt: i.updatedAt,
      state: i.state,
      entries,
      acknowledgement: ack,
      ownKeySigned: signed.some((e) => signedBy(e, reviewer)),
      verified: problems.length === 0,
      problems: problems.map(shown),
    };
  }

  private alarmView(raw: unknown, check: ItemCheck, reviewer: UnlockedCustodian): AlarmView {
    const parsed = reviewAlarmSchema.safeParse(raw);
    if (!parsed.success) {
      const id = typeof (raw as { id?: unknown } | null)?.id === 'string' ? shown((raw as { id: string }).id).slice(0, 128) : '(no id)';
      return {
        id,
        kind: 'JOURNAL_WARNING',
        device: '',
        seq: null,
        message: '(malformed)',
        raisedAt: 0,
        state: 'open',
        entries: [],
        acknowledgement: null,
        ownKeySigned: false,
        verified: false,
        problems: [`the alarm is malformed: ${issueText(parsed.error.issues[0])}`],
      };
    }
    const a = parsed.data;
    const { entries, signed, problems } = this.evidence(a.entries, check, a.device);
    const ack = this.acknowledgementFor(a.acknowledgement, a.state, { kind: 'alarm', id: a.id }, check, problems);
    return {
      id: a.id,
      kind: a.kind,
      device: a.device,
      seq: a.seq,
      message: shown(a.message),
      raisedAt: a.raisedAt,
      state: a.state,
      entries,
      acknowledgement: ack,
      ownKeySigned: signed.some((e) => signedBy(e, reviewer)),
      verified: problems.length === 0,
      problems: problems.map(shown),
    };
  }

  /** Checks every entry behind an item; they must all be of the item's device and in seq order. */
  private evidence(
    raw: readonly { entry: unknown; receipt: unknown }[],
    check: ItemCheck,
    device: string,
  ): { entries: ReviewEntryView[]; signed: SignedEntry[]; problems: string[] } {
    const problems: string[] = check.headProblem === null ? [] : [`the answer's tree head: ${check.headProblem}`];
    const entries: ReviewEntryView[] = [];
    const signed: SignedEntry[] = [];
    const roster = this.roster();
    for (const item of raw) {
      const checked = checkEvidence(item, check.head, check.serverKey, check.sodium, check.verifiedHeads);
      const own = [...checked.problems];
      const e = checked.entry;
      if (e !== null) {
        if (e.device !== device) own.push(`entry #${e.seq} is of another device than the item`);
        const last = signed[signed.length - 1];
        if (last !== undefined && e.seq <= last.seq) own.push(`entry #${e.seq} is out of order`);
        signed.push(e);
      }
      problems.push(...own);
      entries.push(entryView(e, own, roster));
    }
    return { entries, signed, problems };
  }

  private acknowledgementFor(
    raw: Acknowledgement | null,
    state: 'open' | 'acknowledged',
    subject: ReviewSubject,
    check: ItemCheck,
    problems: string[],
  ): AcknowledgementView | null {
    if (raw === null) {
      if (state === 'acknowledged') problems.push('the item is marked acknowledged without an acknowledgement');
      return null;
    }
    if (state !== 'acknowledged') problems.push('the item carries an acknowledgement but is marked open');
    const view = this.acknowledgementView(raw, subject, check.serverKey, check.sodium);
    problems.push(...view.problems);
    return view;
  }

  private acknowledgementView(ack: Acknowledgement, subject: ReviewSubject, serverKey: string, sodium: Sodium): AcknowledgementView {
    const problems = acknowledgementProblems(ack, subject, serverKey, sodium);
    const name = this.roster().get(ack.review.review.reviewer)?.name ?? null;
    return {
      review: ack.review.review,
      reviewerName: name,
      hash: ack.hash,
      logIndex: ack.logIndex,
      receivedAt: ack.receivedAt,
      verified: problems.length === 0,
      problems: problems.map(shown),
    };
  }

  /** This vault's custodians by signing key (names for the keys the evidence carries). */
  private roster(): Map<string, { id: string; name: string }> {
    return new Map(
      this.vault()
        .custodians.list()
        .map((c) => [c.signingKey, { id: c.id, name: c.name }]),
    );
  }

  /**
   * A reviewer call with a bearer token: signs in (challenge–response) when there is no session
   * yet, and once more when the server says the session ended. Returns the 200 body.
   */
  private async authed(
    reviewer: UnlockedCustodian,
    url: string,
    request: { method: 'GET' | 'POST'; path: string; json?: unknown },
    what: string,
  ): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      const cached = this.tokens.get(reviewer.signer.publicKey);
      const token = cached !== undefined && cached.url === url && cached.expiresAt - 60_000 > Date.now() ? cached.token : null;
      const bearer = token ?? (await this.session(url, reviewer));
      let answer;
      try {
        answer = await sendRequest(url, { ...request, headers: { authorization: `Bearer ${bearer}` } });
      } catch (error) {
        if (error instanceof ServerUnreachable) throw new HalfkeyError('SYNC_FAILED', `${what} was not read: ${error.message}.`);
        throw error;
      }
      if (answer.status === 200) return answer.body;
      const refused = refusal(what, answer.status, answer.body);
      if (refused.detail?.code === 'SESSION_INVALID' && attempt === 0) {
        this.tokens.delete(reviewer.signer.publicKey);
        continue;
      }
      throw refused;
    }
  }

  private readonly tokens = new Map<string, { url: string; token: string; expiresAt: number }>();

  private async session(url: string, reviewer: UnlockedCustodian): Promise<string> {
    let token: string;
    try {
      token = await this.signIn(url, reviewer);
    } catch (error) {
      if (error instanceof ServerUnreachable) throw new HalfkeyError('SYNC_FAILED', `Reviewer sign-in failed: ${error.message}.`);
      throw error;
    }
    // Sessions last 15 minutes on the server (server/reviewer-routes.ts SESSION_TTL_MS); renewed well before.
    this.tokens.set(reviewer.signer.publicKey, { url, token, expiresAt: Date.now() + 10 * 60_000 });
    return token;
  }

  /** Challenge, signature with the reviewer's key, session: returns the bearer token. */
  private async signIn(url: string, reviewer: UnlockedCustodian): Promise<string> {
    const sodium = await sodiumReady();
    const key = reviewer.signer.publicKey;
    const challenge = await sendRequest(url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key } });
    if (challenge.status !== 200) {
      const refused = refusal('Reviewer sign-in', challenge.status, challenge.body);
      // The vault's reviewer role is not enough: the server's operator grants each key (a public key, safe to show).
      if (refused.detail?.code === 'NOT_A_REVIEWER') {
        throw new HalfkeyError(
          'NOT_PERMITTED',
          `${refused.message} This key is ${key}; ask the server's operator to grant it: halfkey server reviewer grant --db … --key ${key} --name NAME`,
          refused.detail,
        );
      }
      throw refused;
    }
    const issued = challengeResponseSchema.safeParse(challenge.body);
    if (!issued.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered the sign-in with something that is not a challenge.');
    const signature = bytesToHex(reviewer.signer.sign(reviewerChallengeMessage(issued.data.challenge, sodium)));
    const session = await sendRequest(url, {
      method: 'POST',
      path: '/v1/reviewer/session',
      json: { key, challenge: issued.data.challenge, signature },
    });
    if (session.status !== 200) throw refusal('Reviewer sign-in', session.status, session.body);
    const granted = sessionResponseSchema.safeParse(session.body);
    if (!granted.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered the sign-in with something that is not a session.');
    return granted.data.token;
  }

  private async download(url: string, token: string, partial: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(new URL('/v1/reviewer/export', url), {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(this.options.exportTimeoutMs ?? 10 * 60_000),
      });
    } catch (error) {
      throw new ServerUnreachable(`the server at ${url} is unreachable (${error instanceof Error ? error.message : 'network error'})`);
    }
    if (response.status !== 200 || response.body === null) {
      const text = await response.text().catch(() => '');
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      throw refusal('Export', response.status, body);
    }
    await pipeline(
      Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
      createWriteStream(partial, { mode: 0o600 }),
    );
  }
}

/** What every item of one answer is checked against. */
interface ItemCheck {
  /** The answer's tree head, null when it is missing or its signature failed. */
  readonly head: TreeHead | null;
  readonly headProblem: string | null;
  readonly serverKey: string;
  readonly sodium: Sodium;
  readonly verifiedHeads: Set<string>;
}

const issueText = (issue: { path: PropertyKey[]; message: string } | undefined): string =>
  issue === undefined ? 'schema mismatch' : `${issue.path.map(String).join('.') || 'item'}: ${issue.message}`;

const nullableShown = (text: string | null): string | null => (text === null ? null : shown(text));

const signedBy = (entry: SignedEntry, reviewer: UnlockedCustodian): boolean =>
  entry.sigs.some((s) => s.key === reviewer.signer.publicKey) || entry.actor === reviewer.id;

const textOf = (value: unknown): string | null => (typeof value === 'string' ? shown(value) : null);

/** An entry as the reviewer reads it: who, which half, when, why, and its verdict. */
function entryView(e: SignedEntry | null, problems: string[], roster: Map<string, { id: string; name: string }>): ReviewEntryView {
  if (e === null) {
    return {
      seq: null,
      type: '(malformed)',
      time: null,
      actor: null,
      actorName: null,
      half: null,
      reason: null,
      hash: '',
      signers: [],
      verified: false,
      problems: problems.map(shown),
    };
  }
  const item = e.data.item;
  const half =
    e.type === 'break-glass.password-used'
      ? 'password'
      : e.type === 'break-glass.mfa-used'
        ? 'mfa'
        : item === 'password' || item === 'mfa'
          ? item
          : null;
  // A co-signer's key names the custodian even when the entry's actor id is of another vault's roster.
  const cosigner = e.sigs
    .slice(1)
    .map((s) => roster.get(s.key))
    .find((c) => c !== undefined);
  return {
    seq: e.seq,
    type: e.type,
    time: e.time,
    actor: e.actor === null ? null : shown(e.actor),
    actorName: cosigner?.name ?? null,
    half,
    reason: textOf(e.data.reason) ?? textOf(e.data.note) ?? textOf(e.data.message),
    hash: e.hash,
    signers: e.sigs.map((s) => s.key),
    verified: problems.length === 0,
    problems: problems.map(shown),
  };
}

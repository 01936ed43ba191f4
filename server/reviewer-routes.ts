import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { canonicalize } from '../shared/journal/canonical';
import type { Sodium } from '../shared/sodium';
import type { Receipt, TreeHead } from '../shared/sync/receipt';
import { canonicalEntryTexts, type SignedEntry } from '../shared/journal/entry';
import { SERVER_EXPORT_FORMAT, SERVER_EXPORT_VERSION, exportEntryLine, exportReviewLine } from '../shared/sync/server-export';
import {
  REVIEW_CLOCK_SKEW_MS,
  acknowledgeReviewRequestSchema,
  reviewHash,
  signedReviewSchema,
  verifyReviewSignature,
  type Acknowledgement,
  type Incident,
  type ReviewAlarm,
  type ReviewSubject,
} from '../shared/sync/review-wire';
import { challengeRequestSchema, reviewerChallengeMessage, sessionRequestSchema } from '../shared/sync/wire';
import { WireFailure } from './errors';
import { parseBody, parseValue } from './http-body';
import { NodeSet, appendLeaves, inclusionProofs } from './merkle-log';
import type { Notifications } from './notify/event';
import { headTimestamp, type ServerSigner } from './server-key';
import { sweepSilentDevices } from './silent-devices';
import type { Storage, StoredEntry, StoredReview } from './storage/storage';
import { hashToken, newToken } from './tokens';

const CHALLENGE_TTL_MS = 2 * 60_000;
/** Reviewer sessions are short: a stolen token is worth little. */
export const SESSION_TTL_MS = 15 * 60_000;
const EXPORT_PAGE = 500;
/** Page sizes of the incident and alarm views (each item carries its entries and their receipts). */
const VIEW_PAGE_DEFAULT = 50;
const VIEW_PAGE_MAX = 200;
/** Entries shown per incident or alarm at most (the first, by seq); a real session has a dozen. */
export const MAX_EVIDENCE = 100;

/** ?state=open|all&limit=&after= of a paged reviewer view: `after` is the previous page's `next`. */
const reviewViewSchema = z
  .object({
    state: z.enum(['open', 'all']).default('open'),
    limit: z
      .string()
      .regex(/^[1-9][0-9]{0,2}$/, `must be a whole number from 1 to ${VIEW_PAGE_MAX}`)
      .transform(Number)
      .refine((n) => n <= VIEW_PAGE_MAX, `must be a whole number from 1 to ${VIEW_PAGE_MAX}`)
      .default(VIEW_PAGE_DEFAULT),
    after: z
      .string()
      .regex(/^(0|[1-9][0-9]{0,14})$/, 'must be a whole number (the `next` of the previous page)')
      .transform(Number)
      .optional(),
  })
  .strict();

interface ReviewerDeps {
  readonly storage: Storage;
  readonly signer: ServerSigner;
  readonly sodium: Sodium;
  readonly now: () => number;
  /** The log's latest tree head under the server's current key (currentKeyHeads; never writes storage). */
  readonly latestTreeHead: () => Promise<Receipt['treeHead'] | null>;
  readonly limitByAddress: (request: FastifyRequest) => Promise<void>;
  /** Takes one token from the reviewer's budget (429 RATE_LIMITED when spent); an export also spends the export budget. */
  readonly limitReviewer: (key: string, what: 'view' | 'export') => Promise<void>;
  /** onRequest of every bearer-token route: refuses an address that spent its failed-authentication budget before the body is read. */
  readonly refuseFailingAddress: (request: FastifyRequest) => Promise<void>;
  /** Runs an authentication and charges its refusal (other than RATE_LIMITED) to the client address. */
  readonly chargingFailures: <T>(request: FastifyRequest, authenticate: () => Promise<T>) => Promise<T>;
  /** Where acknowledgements (and the alarms a view's silent-device sweep raises) are announced. */
  readonly notifications: Notifications;
  /** A device silent this long raises DEVICE_SILENT when a reviewer looks at the alarms (undefined: never). */
  readonly silentAfterMs?: number;
}

/** An entry and its receipt under the view's head (every entry shown was logged before the head was read). */
function evidence(entries: readonly StoredEntry[], head: TreeHead | null, proofs: ReadonlyMap<number, string[]>) {
  if (head === null) return [];
  return entries
    .filter((e) => e.logIndex < head.size)
    .map((e) => ({
      entry: JSON.parse(e.body) as Record<string, unknown>,
      receipt: {
        device: e.device,
        seq: e.seq,
        entryHash: e.hash,
        logIndex: e.logIndex,
        treeHead: head,
        inclusionProof: proofs.get(e.logIndex)!,
      },
    }));
}

/** A stored review as the wire shows it, with its receipt under `head`. */
function acknowledgementOf(r: StoredReview, head: TreeHead | null, proofs: ReadonlyMap<number, string[]>): Acknowledgement | null {
  const proof = proofs.get(r.logIndex);
  if (head === null || proof === undefined) return null;
  return {
    review: signedReviewSchema.parse(JSON.parse(r.body)),
    hash: r.hash,
    logIndex: r.logIndex,
    receivedAt: r.receivedAt,
    receipt: { logIndex: r.logIndex, inclusionProof: proof, treeHead: head },
  };
}

const NOT_GRANTED =
  "this key has no reviewer grant on this server (a journal's reviewer role does not give one): the server operator grants it with `halfkey server reviewer grant`";

/**
 * Challenge–response sign-in with a reviewer key the server's operator granted, then the
 * reviewer's org-wide read-and-acknowledge views. A journal's `custodian.enrolled` with role
 * reviewer grants nothing here: any vault's admin can write one.
 */
export function registerReviewerRoutes(app: FastifyInstance, deps: ReviewerDeps): void {
  const { storage, sodium, now } = deps;
  const q = storage.queries;

  const reviewer = (request: FastifyRequest): Promise<string> => deps.chargingFailures(request, () => bearer(request));
  const bearer = async (request: FastifyRequest): Promise<string> => {
    const auth = request.headers.authorization;
    const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : null;
    if (token === null || token.length === 0 || token.length > 128)
      throw new WireFailure(401, 'SESSION_INVALID', 'reviewer endpoints need "Authorization: Bearer <session token>"');
    const key = await q.sessionReviewer(hashToken(token, sodium), now());
    if (key === null)
      throw new WireFailure(401, 'SESSION_INVALID', 'the reviewer session is unknown, expired or ended by a revocation: sign in again');
    // Checked on every request, so a revocation ends a session that is already open.
    if (!(await q.isReviewerKey(key))) throw new WireFailure(403, 'NOT_A_REVIEWER', NOT_GRANTED);
    await deps.limitReviewer(key, 'view');
    return key;
  };

  app.post('/v1/reviewer/challenge', async (request) => {
    await deps.limitByAddress(request);
    const body = parseBody(challengeRequestSchema, request.body);
    if (!(await q.isReviewerKey(body.key))) throw new WireFailure(403, 'NOT_A_REVIEWER', NOT_GRANTED);
    const challenge = sodium.to_hex(sodium.randombytes_buf(32));
    const expiresAt = now() + CHALLENGE_TTL_MS;
    await q.insertChallenge(challenge, body.key, expiresAt);
    return { challenge, expiresAt };
  });

  app.post('/v1/reviewer/session', async (request) => {
    await deps.limitByAddress(request);
    const body = parseBody(sessionRequestSchema, request.body);
    const owner = await q.consumeChallenge(body.challenge, now());
    if (owner === null || owner !== body.key)
      throw new WireFailure(401, 'CHALLENGE_INVALID', 'the challenge is unknown, used, expired or was issued to another key');
    let valid = false;
    try {
      valid = sodium.crypto_sign_verify_detached(
        sodium.from_hex(body.signature),
        reviewerChallengeMessage(body.challenge, sodium),
        sodium.from_hex(body.key),
      );
    } catch {
      valid = false;
    }
    if (!valid) throw new WireFailure(401, 'CHALLENGE_INVALID', 'the challenge signature does not verify under this key');
    if (!(await q.isReviewerKey(body.key))) throw new WireFailure(403, 'NOT_A_REVIEWER', NOT_GRANTED);
    const token = newToken(sodium);
    const expiresAt = now() + SESSION_TTL_MS;
    await q.insertSession(hashToken(token, sodium), body.key, expiresAt);
    request.log.info({ reviewer: body.key.slice(0, 16) }, 'reviewer signed in');
    return { token, expiresAt };
  });

  app.get('/v1/reviewer/devices', { onRequest: deps.refuseFailingAddress }, async (request) => {
    await reviewer(request);
    const [devices, alarms] = await Promise.all([q.listDevices(), q.alarmCounts()]);
    return {
      devices: devices.map((d) => ({
        device: d.device,
        vault: d.vault,
        enrolledAt: d.enrolledAt,
        revokedAt: d.revokedAt,
        lastSeen: d.lastSeen,
        lastSeq: d.headSeq,
        alarms: alarms.get(d.device) ?? 0,
      })),
    };
  });

  app.get('/v1/reviewer/incidents', { onRequest: deps.refuseFailingAddress }, async (request) => {
    await reviewer(request);
    // Paged: `next` is the `after` of the following page, null on the last one.
    const page = parseValue(reviewViewSchema, request.query, 'query');
    const rows = await q.listIncidents(page.state === 'open', page.after ?? -1, page.limit + 1);
    const shown = rows.slice(0, page.limit);
    const [entries, reviews] = await Promise.all([
      Promise.all(shown.map((i) => q.incidentEntries(i.id, -1, MAX_EVIDENCE))),
      q.reviewsOf(
        'incident',
        shown.map((i) => i.id),
      ),
    ]);
    // Read after everything it covers: every entry and review above is in the log under this head.
    const head = await deps.latestTreeHead();
    const proofs = await proofsUnder(head, [...entries.flat().map((e) => e.logIndex), ...[...reviews.values()].map((r) => r.logIndex)]);
    const incidents: Incident[] = shown.map((i, n) => {
      const review = reviews.get(i.id);
      return {
        id: i.id,
        device: i.device,
        vault: i.vault,
        session: i.session,
        account: i.account,
        reference: i.reference,
        reason: i.reason,
        severity: i.severity,
        outcome: i.outcome,
        openedAt: i.openedAt,
        updatedAt: i.updatedAt,
        state: review === undefined ? 'open' : 'acknowledged',
        entries: evidence(entries[n]!, head, proofs),
        acknowledgement: review === undefined ? null : acknowledgementOf(review, head, proofs),
      };
    });
    return { incidents, treeHead: head, next: rows.length > page.limit ? String(shown[shown.length - 1]!.ord) : null };
  });

  app.get('/v1/reviewer/alarms', { onRequest: deps.refuseFailingAddress }, async (request) => {
    await reviewer(request);
    const page = parseValue(reviewViewSchema, request.query, 'query');
    // Silent devices are found when someone looks, as well as by startServer's periodic sweep.
    if (deps.silentAfterMs !== undefined) await sweepSilentDevices(storage, deps.notifications, deps.silentAfterMs, now());
    const rows = await q.listReviewAlarms(page.state === 'open', page.after ?? 0, page.limit + 1);
    const shown = rows.slice(0, page.limit);
    const [entries, reviews] = await Promise.all([
      Promise.all(shown.map((a) => q.alarmEntries(a.id, MAX_EVIDENCE))),
      q.reviewsOf(
        'alarm',
        shown.map((a) => String(a.id)),
      ),
    ]);
    const head = await deps.latestTreeHead();
    const proofs = await proofsUnder(head, [...entries.flat().map((e) => e.logIndex), ...[...reviews.values()].map((r) => r.logIndex)]);
    const alarms: ReviewAlarm[] = shown.map((a, n) => {
      const review = reviews.get(String(a.id));
      return {
        id: String(a.id),
        device: a.device,
        kind: a.kind,
        seq: a.seq,
        message: a.message,
        raisedAt: a.raisedAt,
        evidence: JSON.parse(a.evidence) as unknown,
        entries: evidence(entries[n]!, head, proofs),
        state: review === undefined ? 'open' : 'acknowledged',
        acknowledgement: review === undefined ? null : acknowledgementOf(review, head, proofs),
      };
    });
    return { alarms, treeHead: head, next: rows.length > page.limit ? String(shown[shown.length - 1]!.id) : null };
  });

  app.post('/v1/reviewer/acknowledge', { onRequest: deps.refuseFailingAddress }, async (request) => {
    const key = await reviewer(request);
    const signed = parseBody(acknowledgeReviewRequestSchema, request.body);
    const { review } = signed;
    if (!verifyReviewSignature(signed, sodium))
      throw new WireFailure(400, 'REVIEW_INVALID', "the review's signature does not verify under review.reviewer over this review");
    if (review.reviewer !== key)
      throw new WireFailure(
        403,
        'WRONG_REVIEWER',
        'review.reviewer is not the key this session signed in with: a reviewer submits only their own reviews',
      );
    const at = now();
    if (Math.abs(review.time - at) > REVIEW_CLOCK_SKEW_MS)
      throw new WireFailure(
        400,
        'REVIEW_STALE',
        `review.time is more than ${REVIEW_CLOCK_SKEW_MS / 60_000} minutes from the server's clock: check this computer's clock and sign the review again`,
      );
    const subject = await subjectOf(review.subject);
    await refuseOwn(key, subject);
    const hash = reviewHash(signed, sodium);
    const outcome = await storage.transaction(
      async (tx) => {
        const first = await tx.reviewOf(review.subject.kind, review.subject.id);
        if (first !== null) return { stored: first, already: true, head: null };
        const latest = await tx.latestTreeHead();
        const size = latest?.size ?? 0;
        const nodes = new NodeSet(tx);
        const appended = await appendLeaves(size, [hash], nodes);
        const head = deps.signer.signTreeHead({ size: appended.size, root: appended.root, timestamp: headTimestamp(at, latest) });
        const stored: StoredReview = {
          hash,
          subjectKind: review.subject.kind,
          subjectId: review.subject.id,
          reviewer: key,
          body: canonicalize(signed),
          logIndex: size,
          receivedAt: at,
        };
        // The unique subject refuses a second review another process stored meanwhile (it cannot, under the log lock, but the database says so too).
        if (!(await tx.insertReview(stored)))
          throw new WireFailure(409, 'REVIEW_INVALID', 'this exact review is already stored for another subject');
        await tx.insertLogNodes(appended.nodes);
        await tx.insertTreeHead(head);
        await deps.notifications.enqueue(tx, {
          kind: review.subject.kind === 'incident' ? 'incident.acknowledged' : 'alarm.acknowledged',
          subject: review.subject.id,
          device: subject.device,
          at,
          text: `${review.subject.kind === 'incident' ? 'Incident' : 'Alarm'} ${review.subject.id.slice(0, 16)} acknowledged by reviewer ${key.slice(0, 12)}…: ${review.finding}${review.rotationDone ? ', halves rotated' : ''}`,
          detail: { finding: review.finding, rotationDone: review.rotationDone, reviewer: key, logIndex: size },
        });
        const proof = await inclusionProofs([size], appended.size, nodes);
        return { stored, already: false, head, proof: proof.get(size)! };
      },
      { log: true },
    );
    if (!outcome.already) request.log.info({ reviewer: key.slice(0, 16), subject: review.subject.kind }, 'review logged');
    // The first acknowledgement, under the head that logged it, or (already) under the latest head.
    const head = outcome.head ?? (await deps.latestTreeHead());
    const proofs =
      'proof' in outcome && outcome.head !== null
        ? new Map([[outcome.stored.logIndex, outcome.proof]])
        : await proofsUnder(head, [outcome.stored.logIndex]);
    return { acknowledgement: acknowledgementOf(outcome.stored, head, proofs), already: outcome.already };
  });

  /** The subject of a review, or 404; with the entries it rests on (for the own-break-glass rule). */
  const subjectOf = async (
    subject: ReviewSubject,
  ): Promise<{ device: string; vault: string | null; entries: () => AsyncGenerator<StoredEntry> }> => {
    if (subject.kind === 'incident') {
      const incident = await q.getIncident(subject.id);
      if (incident === null) throw new WireFailure(404, 'NOT_FOUND', `there is no incident ${subject.id.slice(0, 16)}…`);
      return {
        device: incident.device,
        vault: incident.vault,
        entries: async function* () {
          for (let after = -1; ;) {
            const page = await q.incidentEntries(incident.id, after, 500);
            yield* page;
            if (page.length < 500) return;
            after = page[page.length - 1]!.seq;
          }
        },
      };
    }
    const alarm = await q.getAlarm(Number(subject.id));
    if (alarm === null) throw new WireFailure(404, 'NOT_FOUND', `there is no alarm ${subject.id}`);
    const device = await q.getDevice(alarm.device);
    return {
      device: alarm.device,
      vault: device?.vault ?? null,
      entries: async function* () {
        yield* await q.alarmEntries(alarm.id, 10_000);
      },
    };
  };

  /** A reviewer never closes their own break-glass: refused when their key signed an entry behind it or names a custodian who acted in it. */
  const refuseOwn = async (key: string, subject: Awaited<ReturnType<typeof subjectOf>>): Promise<void> => {
    const selves = new Set(subject.vault === null ? [] : await q.custodiansOfKey(subject.vault, key));
    for await (const e of subject.entries()) {
      const signers = (JSON.parse(e.body) as { sigs?: { key?: unknown }[] }).sigs ?? [];
      if (signers.some((s) => s.key === key) || (e.actor !== null && selves.has(e.actor)))
        throw new WireFailure(
          403,
          'OWN_INCIDENT',
          `this reviewer's key took part in it (entry ${e.seq} of device ${e.device.slice(0, 12)}…): another reviewer must acknowledge it`,
        );
    }
  };

  /** Inclusion proofs of these log indexes under `head` (none without a head). */
  const proofsUnder = async (head: TreeHead | null, indexes: readonly number[]): Promise<Map<number, string[]>> => {
    if (head === null) return new Map();
    return inclusionProofs(
      indexes.filter((i) => i < head.size),
      head.size,
      new NodeSet(q),
    );
  };

  app.get('/v1/reviewer/export', { onRequest: deps.refuseFailingAddress }, async (request, reply) => {
    await deps.limitReviewer(await reviewer(request), 'export');
    const head = await deps.latestTreeHead();
    if (head === null) throw new WireFailure(404, 'NOT_FOUND', 'the log is empty: nothing to export');
    reply.type('application/x-ndjson');
    return reply.send(Readable.from(exportLines(deps, head)));
  });
}

/**
 * Canonical JSON of a receipt the server built (members sorted, hex strings and integers only),
 * with its head already encoded: about 5x cheaper than canonicalize on each of a large export's lines.
 */
const receiptText = (r: Receipt, headText: string): string =>
  `{"device":${JSON.stringify(r.device)},"entryHash":${JSON.stringify(r.entryHash)},"inclusionProof":${JSON.stringify(r.inclusionProof)},"logIndex":${r.logIndex},"seq":${r.seq},"treeHead":${headText}}`;

/**
 * The export: a header with the signed tree head, then every leaf in log order with its receipt
 * under that head: an entry line, or a review line for a reviewer's signed review. Every line is canonical JSON, which the verifier requires; the stored body is
 * not (its members are in insertion order), so each entry is parsed and re-encoded: about 8 µs a
 * line more than copying it.
 */
async function* exportLines(deps: ReviewerDeps, head: Receipt['treeHead']): AsyncGenerator<string> {
  const headText = canonicalize(head);
  yield `${canonicalize({ kind: 'header', format: SERVER_EXPORT_FORMAT, version: SERVER_EXPORT_VERSION, serverKey: deps.signer.publicKey, treeHead: head })}\n`;
  for (let from = 0; from < head.size; from += EXPORT_PAGE) {
    const to = Math.min(head.size, from + EXPORT_PAGE);
    // The log's leaves are entries and reviews: a page of log indexes holds at most EXPORT_PAGE of each.
    const [entries, reviews] = await Promise.all([
      deps.storage.queries.entriesByLogIndex(from, to - from),
      deps.storage.queries.reviewsInLogRange(from, to),
    ]);
    const page = entries.filter((e) => e.logIndex < to);
    const proofs = await inclusionProofs(
      [...page.map((e) => e.logIndex), ...reviews.map((r) => r.logIndex)],
      head.size,
      new NodeSet(deps.storage.queries),
    );
    const lines: { readonly logIndex: number; readonly text: string }[] = page.map((e) => {
      const receipt: Receipt = {
        device: e.device,
        seq: e.seq,
        entryHash: e.hash,
        logIndex: e.logIndex,
        treeHead: head,
        inclusionProof: proofs.get(e.logIndex)!,
      };
      return {
        logIndex: e.logIndex,
        text: exportEntryLine(canonicalEntryTexts(JSON.parse(e.body) as SignedEntry).line, receiptText(receipt, headText)),
      };
    });
    for (const r of reviews) {
      const signed = JSON.parse(r.body) as { review: unknown; signature: string };
      const receipt = { logIndex: r.logIndex, inclusionProof: proofs.get(r.logIndex)!, treeHead: head };
      lines.push({ logIndex: r.logIndex, text: exportReviewLine(signed.review, signed.signature, receipt) });
    }
    lines.sort((a, b) => a.logIndex - b.logIndex);
    for (const line of lines) yield `${line.text}\n`;
  }
}

import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { canonicalize } from '../shared/journal/canonical';
import type { Sodium } from '../shared/sodium';
import type { Receipt } from '../shared/sync/receipt';
import { canonicalEntryTexts, type SignedEntry } from '../shared/journal/entry';
import { SERVER_EXPORT_FORMAT, SERVER_EXPORT_VERSION, exportEntryLine } from '../shared/sync/server-export';
import { acknowledgeRequestSchema, challengeRequestSchema, reviewerChallengeMessage, sessionRequestSchema } from '../shared/sync/wire';
import { WireFailure } from './errors';
import { parseBody, parseValue } from './http-body';
import { NodeSet, inclusionProofs } from './merkle-log';
import type { ServerSigner } from './server-key';
import type { Storage } from './storage/storage';
import { hashToken, newToken } from './tokens';

const CHALLENGE_TTL_MS = 2 * 60_000;
/** Reviewer sessions are short: a stolen token is worth little. */
export const SESSION_TTL_MS = 15 * 60_000;
const EXPORT_PAGE = 500;
/** Page sizes of the alarm and break-glass views (an alarm carries both entries as evidence). */
const VIEW_PAGE_DEFAULT = 100;
const VIEW_PAGE_MAX = 500;

/** ?limit=&after= of a paged reviewer view: `after` is the previous page's `next`. */
const reviewerPageSchema = z
  .object({
    limit: z
      .string()
      .regex(/^[1-9][0-9]{0,3}$/, `must be a whole number from 1 to ${VIEW_PAGE_MAX}`)
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

  app.get('/v1/reviewer/alarms', { onRequest: deps.refuseFailingAddress }, async (request) => {
    await reviewer(request);
    // Both views are paged: `next` is the `after` of the following page, null on the last one.
    const page = parseValue(reviewerPageSchema, request.query, 'query');
    const alarms = await q.alarmsAfter(page.after ?? 0, page.limit + 1);
    const shown = alarms.slice(0, page.limit);
    return {
      alarms: shown.map((a) => ({ ...a, evidence: JSON.parse(a.evidence) as unknown })),
      next: alarms.length > page.limit ? shown[shown.length - 1]!.id : null,
    };
  });

  app.get('/v1/reviewer/break-glass', { onRequest: deps.refuseFailingAddress }, async (request) => {
    await reviewer(request);
    const page = parseValue(reviewerPageSchema, request.query, 'query');
    const items = await q.unacknowledgedBreakGlass(page.limit + 1, page.after ?? -1);
    const shown = items.slice(0, page.limit);
    return {
      items: shown.map((e) => ({ device: e.device, seq: e.seq, type: e.type, time: e.time, actor: e.actor, hash: e.hash })),
      next: items.length > page.limit ? shown[shown.length - 1]!.logIndex : null,
    };
  });

  app.post('/v1/reviewer/break-glass/ack', { onRequest: deps.refuseFailingAddress }, async (request) => {
    const key = await reviewer(request);
    const body = parseBody(acknowledgeRequestSchema, request.body);
    const [entry] = await q.entriesBySeq(body.device, body.seq, body.seq);
    if (entry === undefined || !entry.breakGlass)
      throw new WireFailure(404, 'NOT_FOUND', 'there is no break-glass entry at that device and seq');
    const fresh = await q.acknowledge(body.device, body.seq, key, now());
    return { acknowledged: true, already: !fresh };
  });

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
 * The export: a header with the signed tree head, then every entry in log order with its receipt
 * under that head. Every line is canonical JSON, which the verifier requires; the stored body is
 * not (its members are in insertion order), so each entry is parsed and re-encoded: about 8 µs a
 * line more than copying it.
 */
async function* exportLines(deps: ReviewerDeps, head: Receipt['treeHead']): AsyncGenerator<string> {
  const headText = canonicalize(head);
  yield `${canonicalize({ kind: 'header', format: SERVER_EXPORT_FORMAT, version: SERVER_EXPORT_VERSION, serverKey: deps.signer.publicKey, treeHead: head })}\n`;
  for (let from = 0; from < head.size; from += EXPORT_PAGE) {
    const page = (await deps.storage.queries.entriesByLogIndex(from, Math.min(EXPORT_PAGE, head.size - from))).filter(
      (e) => e.logIndex < head.size,
    );
    const proofs = await inclusionProofs(
      page.map((e) => e.logIndex),
      head.size,
      new NodeSet(deps.storage.queries),
    );
    for (const e of page) {
      const receipt: Receipt = {
        device: e.device,
        seq: e.seq,
        entryHash: e.hash,
        logIndex: e.logIndex,
        treeHead: head,
        inclusionProof: proofs.get(e.logIndex)!,
      };
      yield `${exportEntryLine(canonicalEntryTexts(JSON.parse(e.body) as SignedEntry).line, receiptText(receipt, headText))}\n`;
    }
  }
}

import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Sodium } from '../shared/sodium';
import {
  consistencyQuerySchema,
  enrolRequestSchema,
  ingestQuerySchema,
  ingestRequestSchema,
  type DeviceHeadResponse,
  type EnrolResponse,
} from '../shared/sync/wire';
import { authenticateDevice, RequestBuckets, SharedBuckets, type RateLimit, type RateLimiter } from './auth';
import { WireFailure } from './errors';
import { parseBody, parseValue, rawBody } from './http-body';
import { DeviceOrder, ingestBatch } from './ingest';
import { NodeSet, consistencyProofOf } from './merkle-log';
import { registerReviewerRoutes } from './reviewer-routes';
import type { ServerSigner } from './server-key';
import { inlineChecker, type EntryChecker } from './signature-pool';
import type { Storage } from './storage/storage';
import { hashToken } from './tokens';

export interface ServerOptions {
  readonly storage: Storage;
  readonly signer: ServerSigner;
  readonly sodium: Sodium;
  /** Structured log; bodies, keys and tokens are never passed to it. */
  readonly logger?: Logger | false;
  readonly now?: () => number;
  /** Per-device request budget (and per-address for unauthenticated endpoints). */
  readonly rateLimit?: RateLimit;
  /** Keep the buckets in the database, shared by every process on it (default: on PostgreSQL only). */
  readonly sharedRateLimit?: boolean;
  /** Largest ingest body in bytes; other endpoints accept 64 KiB. */
  readonly maxBatchBytes?: number;
  readonly https?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Where entry hashes and signatures are checked; defaults to the calling thread (startServer passes its worker pool). */
  readonly checker?: EntryChecker;
}

const SMALL_BODY = 64 * 1024;

/** Builds the central journal server (not yet listening). */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { storage, signer, sodium } = options;
  const now = options.now ?? Date.now;
  const checker = options.checker ?? inlineChecker();
  const order = new DeviceOrder();
  const limit = options.rateLimit ?? { capacity: 120, perSecond: 20 };
  // On PostgreSQL several stateless processes share the database, so they share its buckets; a
  // SQLite server is one process and keeps them in memory (no write per request).
  const buckets: RateLimiter = (options.sharedRateLimit ?? storage.kind === 'postgres') ? new SharedBuckets(storage.queries, limit) : new RequestBuckets(limit);
  const app = Fastify({
    // Fastify's default request serializer logs method, url and addresses only: never headers or bodies.
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: SMALL_BODY,
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key } } : {}),
  }) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  // Bodies stay raw bytes: the device signature covers their SHA-256, and routes parse them with zod.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof WireFailure) {
      const body = error.evidence === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, evidence: error.evidence };
      request.log.info({ code: error.code, status: error.status }, 'request refused');
      return reply.status(error.status).send({ error: body });
    }
    const code = (error as { code?: unknown }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.status(413).send({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is larger than this endpoint accepts' } });
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.status(415).send({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send application/json' } });
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: 'the request is malformed' } });
    }
    request.log.error({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'unexpected failure');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'the server failed unexpectedly; see its log' } });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } }));

  const limitByAddress = async (request: FastifyRequest): Promise<void> => {
    if (!(await buckets.take(`ip:${request.ip}`, now()))) throw new WireFailure(429, 'RATE_LIMITED', 'too many requests from this address: retry after a pause');
  };
  const device = (request: FastifyRequest, pathDevice: string | null) =>
    authenticateDevice({ method: request.method, path: request.url, headers: request.headers, body: rawBody(request.body), pathDevice }, storage.queries, buckets, sodium, now());
  const deviceParam = (request: FastifyRequest): string => {
    const value = (request.params as { device?: unknown }).device;
    return typeof value === 'string' ? value : '';
  };

  app.get('/v1/server-key', async () => ({ serverKey: signer.publicKey, serverFingerprint: signer.fingerprint }));

  app.post('/v1/enrol', async (request): Promise<EnrolResponse> => {
    await limitByAddress(request);
    const body = parseBody(enrolRequestSchema, request.body);
    const at = now();
    return storage.transaction(async (tx) => {
      if (!(await tx.consumeEnrolToken(hashToken(body.token, sodium), body.device, at))) {
        throw new WireFailure(401, 'TOKEN_INVALID', 'the enrolment token is unknown, already used or expired: ask an administrator for a new one');
      }
      if (!(await tx.insertDevice(body.device, body.vault, at))) throw new WireFailure(409, 'ALREADY_ENROLLED', 'this device key is already enrolled');
      await tx.insertCustodianKeys(body.roster.map((m) => ({ vault: body.vault, signingKey: m.signingKey, custodian: m.custodian, role: m.role, source: 'enrolment' as const })));
      request.log.info({ device: body.device.slice(0, 16) }, 'device enrolled');
      return { serverKey: signer.publicKey, serverFingerprint: signer.fingerprint, device: body.device };
    });
  });

  app.get('/v1/devices/:device/head', async (request): Promise<DeviceHeadResponse> => {
    const record = await device(request, deviceParam(request));
    return { seq: record.headSeq, hash: record.headHash, treeHead: await storage.queries.latestTreeHead() };
  });

  app.post('/v1/devices/:device/entries', { bodyLimit: options.maxBatchBytes ?? 4 * 1024 * 1024 }, async (request) => {
    const record = await device(request, deviceParam(request));
    const query = parseValue(ingestQuerySchema, request.query, 'query');
    const body = parseBody(ingestRequestSchema, request.body);
    const result = await ingestBatch({ storage, order, signer, checker, now }, record, body.entries, query.receipts ?? 'each');
    request.log.info({ device: record.device.slice(0, 16), entries: body.entries.length, head: result.head.seq }, 'batch ingested');
    return result;
  });

  app.get('/v1/log/head', async () => {
    const head = await storage.queries.latestTreeHead();
    if (head === null) throw new WireFailure(404, 'NOT_FOUND', 'the log is empty: no tree head has been signed yet');
    return head;
  });

  app.get('/v1/log/consistency', async (request) => {
    const q = parseValue(consistencyQuerySchema, request.query, 'query');
    const [from, to] = await Promise.all([storage.queries.treeHeadAt(q.from), storage.queries.treeHeadAt(q.to)]);
    if (from === null || to === null) throw new WireFailure(404, 'NOT_FOUND', `no signed tree head of size ${from === null ? q.from : q.to}`);
    if (q.from > q.to) throw new WireFailure(400, 'BAD_REQUEST', 'query.from must not exceed query.to');
    return { from, to, proof: await consistencyProofOf(q.from, q.to, new NodeSet(storage.queries)) };
  });

  registerReviewerRoutes(app, { storage, signer, sodium, now, limitByAddress });
  return app;
}

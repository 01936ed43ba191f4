import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Sodium } from '../shared/sodium';
import {
  consistencyQuerySchema,
  enrolRequestSchema,
  enrolSignatureMessage,
  ingestQuerySchema,
  ROTATION_HEADER,
  ingestRequestSchema,
  MAX_BATCH_BYTES,
  type DeviceHeadResponse,
  type EnrolResponse,
} from '../shared/sync/wire';
import {
  authenticateDevice,
  authenticateDeviceDeferringNonce,
  enrolmentSignatureValid,
  FAILED_AUTH_LIMIT,
  FailedAuthentications,
  RequestBuckets,
  SharedBuckets,
  type RateLimit,
  type RateLimiter,
} from './auth';
import { refuseUnsafeEntryText } from './entry-text';
import { WireFailure } from './errors';
import { parseBody, parseValue, rawBody, refuseDeepJson } from './http-body';
import { DeviceOrder, ingestBatch } from './ingest';
import { NodeSet, consistencyProofOf } from './merkle-log';
import { registerReviewerRoutes } from './reviewer-routes';
import { currentKeyHeads, type ServerSigner } from './server-key';
import { inlineChecker, type EntryChecker } from './signature-pool';
import type { Storage } from './storage/storage';
import { hashToken } from './tokens';
import { noNotifications, type Notifications } from './notify/event';
import { sweepIntervalMs, sweepSilentDevices } from './silent-devices';

export interface ServerOptions {
  readonly storage: Storage;
  readonly signer: ServerSigner;
  readonly sodium: Sodium;
  /** Structured log; bodies, keys and tokens are never passed to it. */
  readonly logger?: Logger | false;
  readonly now?: () => number;
  /** Request budget per device, per reviewer and per client address for unauthenticated endpoints. */
  readonly rateLimit?: RateLimit;
  /**
   * Budget of failed authentications (device signature, reviewer bearer token) per client address
   * (default FAILED_AUTH_LIMIT); once spent, that address's authenticated requests are refused
   * 429 before their body is read.
   */
  readonly failedAuthLimit?: RateLimit;
  /** Budget of full exports per reviewer (default: 3 at once, then one a minute). */
  readonly exportLimit?: RateLimit;
  /**
   * Proxies (IP addresses or CIDR ranges) whose X-Forwarded-For names the client: per-address
   * limits then count the address the load balancer saw, not the balancer's own. Default: none.
   */
  readonly trustProxy?: readonly string[];
  /** Keep the buckets in the database, shared by every process on it (default: on PostgreSQL only). */
  readonly sharedRateLimit?: boolean;
  /** Largest ingest body in bytes; other endpoints accept 64 KiB. */
  readonly maxBatchBytes?: number;
  readonly https?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * Milliseconds a request may take to arrive, headers and body, before it is answered 408
   * REQUEST_TIMEOUT. Default: DEFAULT_REQUEST_TIMEOUT_MS.
   */
  readonly requestTimeoutMs?: number;
  /** Where entry hashes and signatures are checked; defaults to the calling thread (startServer passes its worker pool). */
  readonly checker?: EntryChecker;
  /**
   * Where new incidents, alarms and acknowledgements are announced (the webhook outbox in
   * startServer); enqueued inside the transaction that creates them. Default: nowhere.
   */
  readonly notifications?: Notifications;
  /** A device not heard from for this long raises a DEVICE_SILENT alarm (default: never). */
  readonly silentAfterMs?: number;
}

const SMALL_BODY = 64 * 1024;
/** A full export streams the whole log: a reviewer gets a few at once, then one a minute. */
const EXPORT_LIMIT: RateLimit = { capacity: 3, perSecond: 1 / 60 };

/**
 * The answer to a request Node's HTTP parser could not read (bad framing, oversized headers, a
 * request too slow to arrive): written to the socket as-is, since no request object exists, in
 * the same `{ error: { code, message } }` form as every other refusal.
 */
function clientErrorResponse(error: Readonly<{ code?: unknown }>): {
  status: number;
  code: 'BAD_REQUEST' | 'HEADERS_TOO_LARGE' | 'REQUEST_TIMEOUT';
  message: string;
} {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'HEADERS_TOO_LARGE', message: 'the request headers are larger than the server accepts (16 KiB)' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request did not arrive in time' };
    default:
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: 'the request is not well-formed HTTP (check Content-Length and Transfer-Encoding)',
      };
  }
}

/**
 * Two minutes for a whole request: a full 4 MiB batch arrives within it at about 300 kbit/s, and
 * a client that stalls (a slow sender holding connections open) is cut off. The sync client
 * itself gives up after 30 seconds.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

/**
 * Node's timers for a request budget: the whole request and its headers within it, checked
 * often enough that a slow request is cut close to its deadline rather than up to 30 s late.
 */
function requestTimers(ms: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return {
    requestTimeout: ms,
    headersTimeout: Math.min(60_000, ms),
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.ceil(ms / 4))),
  };
}

/** Builds the central journal server (not yet listening). */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { storage, signer, sodium } = options;
  const now = options.now ?? Date.now;
  const checker = options.checker ?? inlineChecker();
  const notifications = options.notifications ?? noNotifications;
  const order = new DeviceOrder();
  const limit = options.rateLimit ?? { capacity: 120, perSecond: 20 };
  // On PostgreSQL several stateless processes share the database, so they share its buckets; a
  // SQLite server is one process and keeps them in memory (no write per request).
  const buckets: RateLimiter =
    (options.sharedRateLimit ?? storage.kind === 'postgres') ? new SharedBuckets(storage.queries, limit) : new RequestBuckets(limit);
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const timers = requestTimers(requestTimeoutMs);
  const app = Fastify({
    // Fastify's default request serializer logs method, url and addresses only: never headers or bodies.
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: SMALL_BODY,
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key, ...timers } } : { http: timers }),
    // Fastify sets the server's request timeout itself (its own default is 0: none).
    requestTimeout: requestTimeoutMs,
    ...(options.trustProxy && options.trustProxy.length > 0 ? { trustProxy: [...options.trustProxy] } : {}),
    // Requests the router cannot even match (bad percent-encoding, an overlong path segment).
    frameworkErrors: (error, request, reply) => {
      request.log.info({ code: 'BAD_REQUEST', status: 400, reason: error.code }, 'request refused');
      const message =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path segment is longer than any this server serves'
          : 'the request URL is malformed (bad percent-encoding)';
      // The option's reply type is generic over routes that do not exist yet; this one answers as any route would.
      return (reply as unknown as FastifyReply).status(400).send({ error: { code: 'BAD_REQUEST', message } });
    },
    clientErrorHandler: (error: Error & { code?: unknown }, socket: Socket) => {
      // A reset connection has no one left to answer.
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const answer = clientErrorResponse(error);
      const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
  }) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  // Bodies stay raw bytes: the device signature covers their SHA-256, and routes parse them with
  // zod. Before anything else reads a body, its nesting depth is checked (iteratively): deeply
  // nested JSON would run recursive code out of stack further on (400 BODY_TOO_DEEP).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      refuseDeepJson(body as Buffer);
    } catch (error) {
      done(error as WireFailure, undefined);
      return;
    }
    done(null, body);
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof WireFailure) {
      const body =
        error.evidence === undefined
          ? { code: error.code, message: error.message }
          : { code: error.code, message: error.message, evidence: error.evidence };
      request.log.info({ code: error.code, status: error.status }, 'request refused');
      return reply.status(error.status).send({ error: body });
    }
    const code = (error as { code?: unknown }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply
        .status(413)
        .send({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is larger than this endpoint accepts' } });
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply.status(415).send({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send application/json' } });
    const status = (error as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: 'the request is malformed' } });
    }
    request.log.error({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'unexpected failure');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'the server failed unexpectedly; see its log' } });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } }));

  const exportBuckets: RateLimiter =
    buckets instanceof SharedBuckets
      ? new SharedBuckets(storage.queries, options.exportLimit ?? EXPORT_LIMIT)
      : new RequestBuckets(options.exportLimit ?? EXPORT_LIMIT);
  // GET /v1/server-key is the load balancer's health check, which must not touch the database:
  // its per-address buckets stay in this process even on PostgreSQL.
  const localBuckets = new RequestBuckets(limit);
  const limitByAddress = async (request: FastifyRequest, limiter: RateLimiter = buckets): Promise<void> => {
    if (!(await limiter.take(`ip:${request.ip}`, now())))
      throw new WireFailure(429, 'RATE_LIMITED', 'too many requests from this address: retry after a pause');
  };
  const limitReviewer = async (key: string, what: 'view' | 'export'): Promise<void> => {
    if (!(await (what === 'export' ? exportBuckets : buckets).take(`${what === 'export' ? 'export' : 'reviewer'}:${key}`, now()))) {
      throw new WireFailure(
        429,
        'RATE_LIMITED',
        what === 'export'
          ? 'this reviewer has used up the export budget: retry in a minute'
          : 'too many requests from this reviewer: retry after a pause',
      );
    }
  };
  const failLimit = options.failedAuthLimit ?? FAILED_AUTH_LIMIT;
  const failedAuth = new FailedAuthentications(
    buckets instanceof SharedBuckets ? new SharedBuckets(storage.queries, failLimit) : new RequestBuckets(failLimit),
    failLimit,
  );
  const FAILING_ADDRESS = 'too many failed authentications from this address: retry after a pause';
  /** onRequest of every device and reviewer-bearer route: runs before the body is read. */
  const refuseFailingAddress = async (request: FastifyRequest): Promise<void> => {
    if (failedAuth.refused(request.ip, now())) throw new WireFailure(429, 'RATE_LIMITED', FAILING_ADDRESS);
  };
  /** Runs an authentication; a refusal (other than the caller's own budget) is charged to the client address. */
  const chargingFailures = async <T>(request: FastifyRequest, authenticate: () => Promise<T>): Promise<T> => {
    try {
      return await authenticate();
    } catch (error) {
      if (error instanceof WireFailure && error.code !== 'RATE_LIMITED' && !(await failedAuth.charge(request.ip, now())))
        throw new WireFailure(429, 'RATE_LIMITED', FAILING_ADDRESS);
      throw error;
    }
  };
  const device = (request: FastifyRequest, pathDevice: string | null) =>
    chargingFailures(request, () =>
      authenticateDevice(
        { method: request.method, path: request.url, headers: request.headers, body: rawBody(request.body), pathDevice },
        storage.queries,
        buckets,
        sodium,
        now(),
      ),
    );
  // Every head served is under the key this server holds now, also right after a key rotation.
  const heads = currentKeyHeads(storage, signer, now, (message) => app.log.warn(message));
  const latestTreeHead = () => heads.latest();
  // The only place a head is re-signed into storage: once at start, never on a request path.
  app.addHook('onReady', async () => {
    await heads.storeAtStart();
  });
  const deviceParam = (request: FastifyRequest): string => {
    const value = (request.params as { device?: unknown }).device;
    return typeof value === 'string' ? value : '';
  };

  app.get('/v1/server-key', async (request) => {
    await limitByAddress(request, localBuckets);
    return { serverKey: signer.publicKey, serverFingerprint: signer.fingerprint };
  });

  app.post('/v1/enrol', async (request): Promise<EnrolResponse> => {
    await limitByAddress(request);
    const body = parseBody(enrolRequestSchema, request.body);
    // Proof of possession, before the token is looked at: a device key is public (every entry and
    // export carries it), and whoever holds a token must not enrol somebody else's.
    if (body.signature === undefined) {
      throw new WireFailure(
        401,
        'BAD_REQUEST_SIGNATURE',
        'the enrolment is not signed: the device key must sign the token, vault and device (docs/sync-protocol.md); update the app',
      );
    }
    const rotation = request.headers[ROTATION_HEADER];
    const message = enrolSignatureMessage(body, sodium);
    if (
      !enrolmentSignatureValid(
        { device: body.device, signature: body.signature, message, rotationProof: typeof rotation === 'string' ? rotation : null },
        sodium,
      )
    ) {
      throw new WireFailure(
        401,
        'BAD_REQUEST_SIGNATURE',
        'the enrolment signature does not verify under the device key for this token, vault and device',
      );
    }
    const at = now();
    return storage.transaction(async (tx) => {
      if (!(await tx.consumeEnrolToken(hashToken(body.token, sodium), body.device, at))) {
        throw new WireFailure(
          401,
          'TOKEN_INVALID',
          'the enrolment token is unknown, already used or expired: ask an administrator for a new one',
        );
      }
      if (!(await tx.insertDevice(body.device, body.vault, at)))
        throw new WireFailure(409, 'ALREADY_ENROLLED', 'this device key is already enrolled');
      await tx.insertCustodianKeys(
        body.roster.map((m) => ({
          vault: body.vault,
          signingKey: m.signingKey,
          custodian: m.custodian,
          role: m.role,
          source: 'enrolment' as const,
        })),
      );
      request.log.info({ device: body.device.slice(0, 16) }, 'device enrolled');
      return { serverKey: signer.publicKey, serverFingerprint: signer.fingerprint, device: body.device };
    });
  });

  app.get('/v1/devices/:device/head', { onRequest: refuseFailingAddress }, async (request): Promise<DeviceHeadResponse> => {
    const record = await device(request, deviceParam(request));
    return { seq: record.headSeq, hash: record.headHash, treeHead: await latestTreeHead() };
  });

  app.post(
    '/v1/devices/:device/entries',
    { bodyLimit: options.maxBatchBytes ?? MAX_BATCH_BYTES, onRequest: refuseFailingAddress },
    async (request) => {
      // The nonce is recorded in the batch's own transaction (one durable commit per batch, not
      // two), or on its own before any refusal is answered: either way before the answer.
      const { record, nonce } = await chargingFailures(request, () =>
        authenticateDeviceDeferringNonce(
          {
            method: request.method,
            path: request.url,
            headers: request.headers,
            body: rawBody(request.body),
            pathDevice: deviceParam(request),
          },
          storage.queries,
          buckets,
          sodium,
          now(),
        ),
      );
      let result;
      let entries = 0;
      try {
        const query = parseValue(ingestQuerySchema, request.query, 'query');
        const body = parseBody(ingestRequestSchema, request.body);
        entries = body.entries.length;
        refuseUnsafeEntryText(body.entries);
        result = await ingestBatch(
          { storage, order, signer, checker, now, notifications },
          record,
          body.entries,
          query.receipts ?? 'each',
          nonce,
        );
      } catch (error) {
        // Nothing of a failed ingest committed, its nonce included (false here: a replay raced it and won).
        await storage.queries.rememberNonce(nonce.device, nonce.nonce, nonce.expiresAt);
        throw error;
      }
      request.log.info({ device: record.device.slice(0, 16), entries, head: result.head.seq }, 'batch ingested');
      return result;
    },
  );

  app.get('/v1/log/head', async (request) => {
    await limitByAddress(request);
    const head = await latestTreeHead();
    if (head === null) throw new WireFailure(404, 'NOT_FOUND', 'the log is empty: no tree head has been signed yet');
    return head;
  });

  app.get('/v1/log/consistency', async (request) => {
    await limitByAddress(request);
    const q = parseValue(consistencyQuerySchema, request.query, 'query');
    const [from, to] = await Promise.all([storage.queries.treeHeadAt(q.from), storage.queries.treeHeadAt(q.to)]);
    if (from === null || to === null)
      throw new WireFailure(404, 'NOT_FOUND', `no signed tree head of size ${from === null ? q.from : q.to}`);
    if (q.from > q.to) throw new WireFailure(400, 'BAD_REQUEST', 'query.from must not exceed query.to');
    return {
      from: heads.underThisKey(from),
      to: heads.underThisKey(to),
      proof: await consistencyProofOf(q.from, q.to, new NodeSet(storage.queries)),
    };
  });

  registerReviewerRoutes(app, {
    storage,
    signer,
    sodium,
    now,
    latestTreeHead,
    limitByAddress: (request) => limitByAddress(request),
    limitReviewer,
    refuseFailingAddress,
    chargingFailures,
    notifications,
    ...(options.silentAfterMs === undefined ? {} : { silentAfterMs: options.silentAfterMs }),
  });
  const silentAfterMs = options.silentAfterMs;
  if (silentAfterMs !== undefined) {
    // DEVICE_SILENT: swept while the server runs (and on each reviewer alarms view); the database dedups across processes.
    let sweep: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      sweep = setInterval(() => {
        void sweepSilentDevices(storage, notifications, silentAfterMs, now()).catch((error: unknown) =>
          app.log.warn({ err: { name: error instanceof Error ? error.name : 'unknown' } }, 'silent-device sweep failed'),
        );
      }, sweepIntervalMs(silentAfterMs));
      sweep.unref();
    });
    app.addHook('onClose', async () => clearInterval(sweep));
  }
  return app;
}

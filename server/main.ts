import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { sodiumReady } from '../shared/sodium';
import type { RateLimit } from './auth';
import { buildServer } from './app';
import { loadOrCreateServerKey, serverSigner, type ServerSigner } from './server-key';
import { inlineChecker, startSignaturePool } from './signature-pool';
import { checkStorageUrl, openStorage, type Storage } from './storage/storage';

export interface StartOptions {
  /** `sqlite:PATH` or a `postgres://` URL. */
  readonly db: string;
  /** HOST:PORT; port 0 picks a free port. */
  readonly listen: string;
  /** Server key file; defaults to `PATH.key` beside a SQLite database, required for PostgreSQL. */
  readonly keyFile?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly logger?: Logger | false;
  readonly rateLimit?: RateLimit;
  /** Signature-checking worker threads; defaults to one per core; 0 checks on the main thread. */
  readonly verifyThreads?: number;
}

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly storage: Storage;
  readonly signer: ServerSigner;
  /** Base URL, e.g. http://127.0.0.1:8443 */
  readonly url: string;
  close(): Promise<void>;
}

/** Where the server key lives for a --db value when --key-file is not given. */
export function defaultKeyFile(db: string): string {
  if (db.startsWith('sqlite:')) return `${db.slice('sqlite:'.length)}.key`;
  throw new Error('--key-file is required with PostgreSQL: every server process must load the same key file');
}

/** Parses HOST:PORT (IPv6 hosts in brackets). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new Error(`--listen must be HOST:PORT, not "${text}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Opens storage and the server key, and starts listening. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  checkStorageUrl(options.db);
  const sodium = await sodiumReady();
  const { host, port } = parseListen(options.listen);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  const signer = serverSigner(loadOrCreateServerKey(options.keyFile ?? defaultKeyFile(options.db), sodium), sodium);
  const storage = await openStorage(options.db);
  const checker = await (options.verifyThreads === 0 ? Promise.resolve(inlineChecker()) : startSignaturePool(options.verifyThreads)).catch(async (error: unknown) => {
    await storage.close();
    throw error;
  });
  const logger = options.logger ?? pino({ name: 'halfkey-server', level: 'info' });
  const app = buildServer({
    storage,
    signer,
    sodium,
    logger,
    checker,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.tlsCert !== undefined && options.tlsKey !== undefined ? { https: { cert: readFileSync(options.tlsCert), key: readFileSync(options.tlsKey) } } : {}),
  });
  // Nonces are kept only until they would be stale anyway.
  // Rate buckets idle for 10 minutes would be full again anyway: dropping them only forgives.
  const prune = setInterval(() => {
    const at = Date.now();
    void storage.queries.pruneNonces(at).catch(() => undefined);
    void storage.queries.pruneRateBuckets(at - 10 * 60_000).catch(() => undefined);
  }, 60_000);
  prune.unref();
  try {
    await app.listen({ host, port });
  } catch (error) {
    clearInterval(prune);
    await checker.close();
    await storage.close();
    throw error;
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const scheme = options.tlsCert !== undefined ? 'https' : 'http';
  return {
    app,
    storage,
    signer,
    url: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`,
    close: async () => {
      clearInterval(prune);
      await app.close();
      await checker.close();
      await storage.close();
    },
  };
}

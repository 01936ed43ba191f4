import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { sodiumReady } from '../shared/sodium';
import type { RateLimit } from './auth';
import { buildServer } from './app';
import { ServerConfigError } from './errors';
import { loadOrCreateServerKey, loadServerKey, serverSigner, type ServerSigner } from './server-key';
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
  /** Load balancers whose X-Forwarded-For is believed (IP addresses or CIDR ranges); see trustedProxies. */
  readonly trustProxy?: readonly string[];
  /** Signature-checking worker threads; defaults to one per core; 0 checks on the main thread. */
  readonly verifyThreads?: number;
  /** Milliseconds a request may take to arrive before a 408 (see ServerOptions.requestTimeoutMs); default two minutes. */
  readonly requestTimeoutMs?: number;
  /** A device silent this long raises a DEVICE_SILENT alarm (swept periodically while serving); default never. */
  readonly silentAfterMs?: number;
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
  throw new ServerConfigError(
    '--key-file is required with PostgreSQL: every server process must load the same key file (make it once with `halfkey server keygen --key-file PATH`)',
  );
}

/** A `sqlite:` database can be created only in a folder that exists; say so before anything is written. */
export function checkSqliteFolder(db: string): void {
  if (!db.startsWith('sqlite:')) return;
  const folder = dirname(resolve(db.slice('sqlite:'.length)));
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new ServerConfigError(`--db ${db}: the folder ${folder} does not exist (create it first)`);
}

/** Parses `--trust-proxy`: comma-separated IP addresses or CIDR ranges of the load balancers. */
export function trustedProxies(text: string): string[] {
  const list = text.split(',').map((a) => a.trim());
  for (const address of list) {
    const [ip, bits, extra] = address.split('/');
    const family = isIP(ip ?? '');
    const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !prefixOk || extra !== undefined) {
      throw new ServerConfigError(
        `--trust-proxy must list the load balancers' IP addresses or CIDR ranges, comma-separated (e.g. 10.0.0.5,10.1.0.0/16), not "${address}"`,
      );
    }
  }
  return list;
}

/** Reads both TLS files and checks they make a usable certificate and key, naming the one that does not. */
function readTls(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const read = (option: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new ServerConfigError(
        `${option} ${path} cannot be read (${code === 'ENOENT' ? 'no such file' : typeof code === 'string' ? code : 'unreadable'})`,
      );
    }
  };
  const cert = read('--tls-cert', certPath);
  const key = read('--tls-key', keyPath);
  try {
    createSecureContext({ cert, key });
  } catch {
    // OpenSSL's reason names neither file, and a key file's contents never belong in a message.
    throw new ServerConfigError(`--tls-cert ${certPath} and --tls-key ${keyPath} are not a PEM certificate and its private key`);
  }
  return { cert, key };
}

/** Parses `--request-timeout`: whole seconds or minutes (`30s`, `2m`), from 1 second to 1 hour; returns milliseconds. */
export function parseRequestTimeout(text: string): number {
  const match = /^(\d{1,4})([sm])$/.exec(text);
  const ms = match ? Number(match[1]) * (match[2] === 'm' ? 60_000 : 1_000) : NaN;
  if (!(ms >= 1_000 && ms <= 3_600_000))
    throw new ServerConfigError(`--request-timeout must be whole seconds or minutes from 1s to 60m, e.g. 30s or 2m, not "${text}"`);
  return ms;
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
  // Every option is checked before anything is created: a mistake leaves no key file or database behind.
  try {
    checkStorageUrl(options.db);
  } catch (error) {
    throw new ServerConfigError(error instanceof Error ? error.message : 'bad --db');
  }
  const sodium = await sodiumReady();
  let listen: { host: string; port: number };
  try {
    listen = parseListen(options.listen);
  } catch (error) {
    throw new ServerConfigError(error instanceof Error ? error.message : 'bad --listen');
  }
  const { host, port } = listen;
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
    throw new ServerConfigError('--tls-cert and --tls-key go together');
  const tls = options.tlsCert !== undefined && options.tlsKey !== undefined ? readTls(options.tlsCert, options.tlsKey) : undefined;
  checkSqliteFolder(options.db);
  const keyFile = options.keyFile ?? defaultKeyFile(options.db);
  // Only the SQLite single node makes its own key: processes sharing PostgreSQL must share one
  // key, and a mistyped path must stop the process, not have it sign with a key of its own.
  const secretKey = options.db.startsWith('sqlite:') ? loadOrCreateServerKey(keyFile, sodium) : loadServerKey(keyFile, sodium);
  const signer = serverSigner(secretKey, sodium);
  const storage = await openStorage(options.db);
  const checker = await (options.verifyThreads === 0 ? Promise.resolve(inlineChecker()) : startSignaturePool(options.verifyThreads)).catch(
    async (error: unknown) => {
      await storage.close();
      throw error;
    },
  );
  const logger = options.logger ?? pino({ name: 'halfkey-server', level: 'info' });
  const app = buildServer({
    storage,
    signer,
    sodium,
    logger,
    checker,
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.silentAfterMs === undefined ? {} : { silentAfterMs: options.silentAfterMs }),
    ...(tls ? { https: tls } : {}),
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

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { sodiumReady } from '../shared/sodium';
import type { RateLimit } from './auth';
import { startServer } from './main';
import { checkStorageUrl, openStorage } from './storage/storage';
import { hashToken, newToken, parseTtl } from './tokens';

/** What the server CLI needs from its caller (a subset of the app CLI's io, so server/ stays free of electron/). */
export interface ServerCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const USAGE = `usage:
  halfkey server --db sqlite:PATH|postgres://… [--listen HOST:PORT] [--key-file PATH] [--tls-cert PEM --tls-key PEM] [--rate-limit BURST/PER_SECOND] [--verify-threads N]
  halfkey server enroll-token --db … [--ttl 15m]
  halfkey server revoke-device --db … --device HEX
`;

class ServerUsageError extends Error {}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } }, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new ServerUsageError(error instanceof Error ? error.message : 'bad arguments');
  }
}

const requireDb = (values: Record<string, string | boolean | undefined>): string => {
  const db = values.db;
  if (typeof db !== 'string') throw new ServerUsageError('--db is required (sqlite:PATH or postgres://…)');
  try {
    checkStorageUrl(db);
  } catch (error) {
    throw new ServerUsageError(error instanceof Error ? error.message : 'bad --db');
  }
  return db;
};

/** `halfkey server …`: serve, issue a one-time enrolment token, or revoke a device. Exit 2 on bad arguments. */
export async function run(argv: string[], io: ServerCliIo): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'enroll-token':
        return await enrollToken(rest, io);
      case 'revoke-device':
        return await revokeDevice(rest, io);
      default:
        return await serve(argv, io);
    }
  } catch (error) {
    if (error instanceof ServerUsageError) {
      io.stderr(`halfkey server: ${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
}

async function enrollToken(argv: string[], io: ServerCliIo): Promise<number> {
  const values = parse(argv, { db: { type: 'string' }, ttl: { type: 'string' } });
  if (values.help) return (io.stdout(USAGE), 0);
  const db = requireDb(values);
  let ttl: number;
  try {
    ttl = parseTtl(typeof values.ttl === 'string' ? values.ttl : '15m');
  } catch (error) {
    throw new ServerUsageError(error instanceof Error ? error.message : 'bad --ttl');
  }
  const sodium = await sodiumReady();
  const storage = await openStorage(db);
  try {
    const token = newToken(sodium);
    const now = Date.now();
    await storage.queries.insertEnrolToken(hashToken(token, sodium), now, now + ttl);
    // Printed once: the server keeps only its hash.
    io.stdout(`${token}\n`);
    io.stderr(`one-time enrolment token, valid until ${new Date(now + ttl).toISOString()}; it is not stored and cannot be shown again\n`);
    return 0;
  } finally {
    await storage.close();
  }
}

async function revokeDevice(argv: string[], io: ServerCliIo): Promise<number> {
  const values = parse(argv, { db: { type: 'string' }, device: { type: 'string' } });
  if (values.help) return (io.stdout(USAGE), 0);
  const db = requireDb(values);
  if (typeof values.device !== 'string' || !/^[0-9a-f]{64}$/.test(values.device)) throw new ServerUsageError('--device must be the device key (64 hex)');
  const storage = await openStorage(db);
  try {
    const revoked = await storage.queries.revokeDevice(values.device, Date.now());
    io.stdout(revoked ? `device ${values.device} revoked\n` : `device ${values.device} is not enrolled or already revoked\n`);
    return revoked ? 0 : 1;
  } finally {
    await storage.close();
  }
}

async function serve(argv: string[], io: ServerCliIo): Promise<number> {
  const values = parse(argv, {
    db: { type: 'string' },
    listen: { type: 'string' },
    'key-file': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'rate-limit': { type: 'string' },
    'verify-threads': { type: 'string' },
  });
  if (values.help) return (io.stdout(USAGE), 0);
  const db = requireDb(values);
  const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new ServerUsageError('--tls-cert and --tls-key go together');
  let rateLimit: RateLimit | undefined;
  if (typeof values['rate-limit'] === 'string') {
    const match = /^(\d{1,7})\/(\d{1,7})$/.exec(values['rate-limit']);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new ServerUsageError('--rate-limit must be BURST/PER_SECOND, e.g. 120/20');
    rateLimit = { capacity: Number(match[1]), perSecond: Number(match[2]) };
  }
  let verifyThreads: number | undefined;
  if (typeof values['verify-threads'] === 'string') {
    verifyThreads = /^\d{1,3}$/.test(values['verify-threads']) ? Number(values['verify-threads']) : -1;
    if (verifyThreads < 0 || verifyThreads > 256) throw new ServerUsageError('--verify-threads must be a whole number from 0 (check on the main thread) to 256 (default: one per core)');
  }
  let server;
  try {
    server = await startServer({
      db,
      listen: str(values.listen) ?? '127.0.0.1:8443',
      ...(str(values['key-file']) ? { keyFile: str(values['key-file'])! } : {}),
      ...(rateLimit ? { rateLimit } : {}),
      ...(verifyThreads === undefined ? {} : { verifyThreads }),
      ...(str(values['tls-cert']) ? { tlsCert: str(values['tls-cert'])!, tlsKey: str(values['tls-key'])! } : {}),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/^--/.test(message)) throw new ServerUsageError(message);
    throw error;
  }
  io.stderr(`halfkey server listening on ${server.url}\nserver key fingerprint: ${server.signer.fingerprint}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

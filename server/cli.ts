import { parseArgs, type ParseArgsConfig } from 'node:util';
import { sodiumReady } from '../shared/sodium';
import type { RateLimit } from './auth';
import { ServerConfigError } from './errors';
import { checkSqliteFolder, parseRequestTimeout, startServer, trustedProxies } from './main';
import { createServerKey, serverSigner } from './server-key';
import { checkStorageUrl, openStorage } from './storage/storage';
import { hashToken, newToken, parseTtl } from './tokens';

/** What the server CLI needs from its caller (a subset of the app CLI's io, so server/ stays free of electron/). */
export interface ServerCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const USAGE = `usage:
  halfkey server --db sqlite:PATH|postgres://… [--listen HOST:PORT] [--key-file PATH] [--tls-cert PEM --tls-key PEM] [--rate-limit BURST/PER_SECOND] [--verify-threads N] [--trust-proxy ADDRESSES] [--request-timeout 30s] [--silent-after 36h]
  halfkey server keygen --key-file PATH
  halfkey server enroll-token --db … [--ttl 15m]
  halfkey server revoke-device --db … --device HEX
  halfkey server reviewer grant --db … --key HEX --name NAME
  halfkey server reviewer revoke --db … --key HEX
  halfkey server reviewer list --db … [--json]
`;

class ServerUsageError extends Error {}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean' } }, strict: true, allowPositionals: false })
      .values as Record<string, string | boolean | undefined>;
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
  checkSqliteFolder(db);
  return db;
};

/** `halfkey server …`: serve, issue a one-time enrolment token, revoke a device, or grant and revoke reviewers. Exit 2 on bad arguments. */
export async function run(argv: string[], io: ServerCliIo): Promise<number> {
  try {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'enroll-token':
        return await enrollToken(rest, io);
      case 'revoke-device':
        return await revokeDevice(rest, io);
      case 'keygen':
        return await keygen(rest, io);
      case 'reviewer':
        return await reviewer(rest, io);
      default:
        return await serve(argv, io);
    }
  } catch (error) {
    if (error instanceof ServerUsageError) {
      io.stderr(`halfkey server: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof ServerConfigError) {
      io.stderr(`halfkey server: ${error.message}\n`);
      return 2;
    }
    // Anything else (the database unreachable, the port taken) is reported in one line, never as
    // a stack trace; the messages name hosts and files, never a password or a key.
    io.stderr(`halfkey server: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** `halfkey server keygen`: makes the server key file once, before the first PostgreSQL process starts; never overwrites one. */
async function keygen(argv: string[], io: ServerCliIo): Promise<number> {
  const values = parse(argv, { 'key-file': { type: 'string' } });
  if (values.help) return (io.stdout(USAGE), 0);
  const path = values['key-file'];
  if (typeof path !== 'string' || path.length === 0)
    throw new ServerUsageError('--key-file is required: where to write the new server key');
  const sodium = await sodiumReady();
  const signer = serverSigner(createServerKey(path, sodium), sodium);
  io.stdout(`server key fingerprint: ${signer.fingerprint}\n`);
  io.stderr(`server key written to ${path} (mode 0600): copy it to every server process on this database, like a TLS private key\n`);
  return 0;
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
  if (typeof values.device !== 'string' || !/^[0-9a-f]{64}$/.test(values.device))
    throw new ServerUsageError('--device must be the device key (64 hex)');
  const storage = await openStorage(db);
  try {
    const revoked = await storage.queries.revokeDevice(values.device, Date.now());
    io.stdout(revoked ? `device ${values.device} revoked\n` : `device ${values.device} is not enrolled or already revoked\n`);
    return revoked ? 0 : 1;
  } finally {
    await storage.close();
  }
}

/** The reviewer's signing key as `halfkey custodian list --json` shows it (`signingKey`); upper-case hex is accepted. */
function reviewerKeyOption(value: string | boolean | undefined): string {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new ServerUsageError(
      "--key must be the reviewer's signing key, 64 hex (the signingKey that `halfkey custodian list --vault DIR --json` shows)",
    );
  }
  return value.toLowerCase();
}

/** Who the key belongs to, for `reviewer list`: printable text only, so a name cannot rewrite the operator's terminal. */
function reviewerNameOption(value: string | boolean | undefined): string {
  if (typeof value !== 'string' || value.trim().length === 0)
    throw new ServerUsageError('--name is required: who the key belongs to, e.g. --name "Rita Reviewer (Audit)"');
  const name = value.trim();
  if (name.length > 100 || /[\p{Cc}\p{Cf}\p{Cs}]/u.test(name))
    throw new ServerUsageError('--name must be at most 100 characters, without control or formatting characters');
  return name;
}

/**
 * `halfkey server reviewer grant|revoke|list`: reviewer rights are the operator's to give, like
 * enrolment tokens; a journal's reviewer role grants nothing on the server. Exit 1 when revoke
 * finds no active grant, 2 on bad arguments.
 */
async function reviewer(argv: string[], io: ServerCliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') return (io.stdout(USAGE), 0);
  if (action !== 'grant' && action !== 'revoke' && action !== 'list')
    throw new ServerUsageError(`expected 'reviewer grant', 'reviewer revoke' or 'reviewer list', got '${action ?? ''}'`);
  const options = {
    grant: { db: { type: 'string' }, key: { type: 'string' }, name: { type: 'string' } },
    revoke: { db: { type: 'string' }, key: { type: 'string' } },
    list: { db: { type: 'string' }, json: { type: 'boolean' } },
  } as const satisfies Record<string, NonNullable<ParseArgsConfig['options']>>;
  const values = parse(rest, options[action]);
  if (values.help) return (io.stdout(USAGE), 0);
  const db = requireDb(values);
  const key = action === 'list' ? '' : reviewerKeyOption(values.key);
  const name = action === 'grant' ? reviewerNameOption(values.name) : '';
  const storage = await openStorage(db);
  try {
    switch (action) {
      case 'grant':
        await storage.queries.grantReviewer(key, name, Date.now());
        io.stdout(`reviewer ${key} (${name}) granted: this key can now sign in to the org-wide review\n`);
        return 0;
      case 'revoke': {
        const revoked = await storage.transaction((tx) => tx.revokeReviewer(key, Date.now()));
        io.stdout(revoked ? `reviewer ${key} revoked; its open sessions are ended\n` : `${key} has no active reviewer grant\n`);
        return revoked ? 0 : 1;
      }
      case 'list': {
        const grants = await storage.queries.listReviewers();
        if (values.json) io.stdout(`${JSON.stringify(grants, null, 2)}\n`);
        else
          for (const g of grants)
            io.stdout(
              `${g.signingKey}  ${g.revokedAt === null ? 'active ' : 'revoked'}  ${g.name}  granted ${new Date(g.grantedAt).toISOString()}${g.revokedAt === null ? '' : `, revoked ${new Date(g.revokedAt).toISOString()}`}\n`,
            );
        if (grants.length === 0 && !values.json)
          io.stderr('no reviewer grants: add one with `halfkey server reviewer grant --db … --key HEX --name NAME`\n');
        return 0;
      }
    }
  } finally {
    await storage.close();
  }
}

/**
 * Parses `--silent-after`: how long a device may go without syncing before a DEVICE_SILENT alarm,
 * in whole minutes, hours or days (`90m`, `36h`, `7d`), from 5 minutes to 365 days; returns ms.
 */
export function parseSilentAfter(text: string): number {
  const match = /^(\d{1,6})([mhd])$/.exec(text);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
  const ms = match ? Number(match[1]) * unit[match[2] as keyof typeof unit] : NaN;
  if (!(ms >= 5 * 60_000 && ms <= 365 * 86_400_000))
    throw new ServerUsageError(
      `--silent-after must be whole minutes, hours or days from 5m to 365d (how long a device may go without syncing before an alarm), e.g. 36h or 7d, not "${text}"`,
    );
  return ms;
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
    'trust-proxy': { type: 'string' },
    'request-timeout': { type: 'string' },
    'silent-after': { type: 'string' },
  });
  if (values.help) return (io.stdout(USAGE), 0);
  const db = requireDb(values);
  const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    throw new ServerUsageError('--tls-cert and --tls-key go together');
  let rateLimit: RateLimit | undefined;
  if (typeof values['rate-limit'] === 'string') {
    const match = /^(\d{1,7})\/(\d{1,7})$/.exec(values['rate-limit']);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1)
      throw new ServerUsageError('--rate-limit must be BURST/PER_SECOND, e.g. 120/20');
    rateLimit = { capacity: Number(match[1]), perSecond: Number(match[2]) };
  }
  let verifyThreads: number | undefined;
  if (typeof values['verify-threads'] === 'string') {
    verifyThreads = /^\d{1,3}$/.test(values['verify-threads']) ? Number(values['verify-threads']) : -1;
    if (verifyThreads < 0 || verifyThreads > 256)
      throw new ServerUsageError(
        '--verify-threads must be a whole number from 0 (check on the main thread) to 256 (default: one per core)',
      );
  }
  const trustProxy = typeof values['trust-proxy'] === 'string' ? trustedProxies(values['trust-proxy']) : undefined;
  const requestTimeoutMs = typeof values['request-timeout'] === 'string' ? parseRequestTimeout(values['request-timeout']) : undefined;
  const silentAfterMs = typeof values['silent-after'] === 'string' ? parseSilentAfter(values['silent-after']) : undefined;
  // A ServerConfigError (a missing or malformed file, a folder that does not exist) ends in run().
  const server = await startServer({
    db,
    listen: str(values.listen) ?? '127.0.0.1:8443',
    ...(str(values['key-file']) ? { keyFile: str(values['key-file'])! } : {}),
    ...(rateLimit ? { rateLimit } : {}),
    ...(trustProxy ? { trustProxy } : {}),
    ...(verifyThreads === undefined ? {} : { verifyThreads }),
    ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    ...(silentAfterMs === undefined ? {} : { silentAfterMs }),
    ...(str(values['tls-cert']) ? { tlsCert: str(values['tls-cert'])!, tlsKey: str(values['tls-key'])! } : {}),
  });
  io.stderr(`halfkey server listening on ${server.url}\nserver key fingerprint: ${server.signer.fingerprint}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HalfkeyError } from '../../shared/api/result';
import { bytesToHex } from '../../shared/journal/hex';
import { sodiumReady } from '../../shared/sodium';
import { challengeResponseSchema, reviewerChallengeMessage, sessionResponseSchema, wireErrorSchema } from '../../shared/sync/wire';
import { exitCodeFor, parseOptions, UsageError, type CliIo } from './main';
import { promptHidden, readSecretFile } from './secret-input';

const USAGE = 'usage: halfkey review export --vault DIR --as REVIEWER_ID --out FILE [--passphrase-file FILE] [--json]\n';

/** Reviewer sessions and the export are refused by rule for a key that is not a reviewer's: exit 3 like other refusals. */
const REFUSALS: Readonly<Record<string, HalfkeyError['code']>> = { NOT_A_REVIEWER: 'NOT_PERMITTED', CHALLENGE_INVALID: 'NOT_PERMITTED', SESSION_INVALID: 'NOT_PERMITTED' };

function refusal(what: string, status: number, body: unknown): HalfkeyError {
  const parsed = wireErrorSchema.safeParse(body);
  if (!parsed.success) return new HalfkeyError('SYNC_FAILED', `${what}: the server answered HTTP ${status} without an error body.`);
  const { code, message } = parsed.data.error;
  return new HalfkeyError(REFUSALS[code] ?? 'SYNC_FAILED', `${what}: the server refused (${code}): ${message}.`, { code });
}

/**
 * `halfkey review export`: a reviewer signs in to the central server with their custodian key
 * (challenge–response, the key unlocked with their passphrase), downloads the org-wide export,
 * and checks it against the server key this vault pinned at enrolment before keeping it. Exit 0
 * only when the export verifies; 1 when it does not (the file is kept as evidence) or the server
 * is unreachable; 3 when the server refuses the key; 2 for bad arguments.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    io.stdout(USAGE);
    return 0;
  }
  if (action !== 'export') throw new UsageError(`expected 'review export', got '${action ?? ''}'\n${USAGE}`);
  const values = parseOptions(rest, { vault: { type: 'string' }, as: { type: 'string' }, out: { type: 'string' }, 'passphrase-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  for (const flag of ['vault', 'as', 'out'] as const) if (!values[flag]) throw new UsageError(`--${flag} is required\n${USAGE}`);
  const out = resolve(io.cwd, values.out!);
  const passphrase = values['passphrase-file'] !== undefined ? readSecretFile(io, values['passphrase-file'], 'passphrase') : await promptHidden(`Passphrase for reviewer ${values.as}: `);

  const sodium = await sodiumReady();
  const [{ openKeytarKeychain }, { Vault }, { SyncClient }, { sendRequest, ServerUnreachable }, exportFile, journalCli] = await Promise.all([
    import('../keychain/keytar-keychain'),
    import('../vault/vault'),
    import('../sync/client'),
    import('../sync/transport'),
    import('../sync/server-export-file'),
    import('./journal'),
  ]);
  const vault = await Vault.open(resolve(io.cwd, values.vault!), await openKeytarKeychain());
  const partial = `${out}.part`;
  try {
    const reviewer = await vault.custodians.unlock(values.as!, passphrase);
    if (reviewer.role !== 'reviewer') throw new HalfkeyError('NOT_PERMITTED', `Custodian ${reviewer.id} is enrolled as ${reviewer.role}, not as a reviewer: only a reviewer's key signs in to the server's review.`);
    const pinned = new SyncClient({ db: vault.db, journal: vault.journal, signer: vault.device.signer }).pinnedServer();
    if (pinned === null) throw new HalfkeyError('SYNC_FAILED', 'This vault is not enrolled with a sync server, so no server key is pinned to check the export against: run halfkey sync --enroll first.');

    const key = reviewer.signer.publicKey;
    const challenge = await sendRequest(pinned.url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key } });
    if (challenge.status !== 200) {
      const refused = refusal('Reviewer sign-in', challenge.status, challenge.body);
      // The vault's reviewer role is not enough: the server's operator grants each key (a public key, safe to print).
      if (refused.detail?.code === 'NOT_A_REVIEWER') throw new HalfkeyError('NOT_PERMITTED', `${refused.message} This key is ${key}; ask the server's operator to grant it: halfkey server reviewer grant --db … --key ${key} --name NAME`, refused.detail);
      throw refused;
    }
    const issued = challengeResponseSchema.safeParse(challenge.body);
    if (!issued.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered the sign-in with something that is not a challenge.');
    const signature = bytesToHex(reviewer.signer.sign(reviewerChallengeMessage(issued.data.challenge, sodium)));
    const session = await sendRequest(pinned.url, { method: 'POST', path: '/v1/reviewer/session', json: { key, challenge: issued.data.challenge, signature } });
    if (session.status !== 200) throw refusal('Reviewer sign-in', session.status, session.body);
    const granted = sessionResponseSchema.safeParse(session.body);
    if (!granted.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered the sign-in with something that is not a session.');
    const { token } = granted.data;

    let response: Response;
    try {
      response = await fetch(new URL('/v1/reviewer/export', pinned.url), { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10 * 60_000) });
    } catch (error) {
      throw new ServerUnreachable(`the server at ${pinned.url} is unreachable (${error instanceof Error ? error.message : 'network error'})`);
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
    // Streamed to a side file, checked, then renamed: a half-downloaded export never sits under the name asked for.
    await pipeline(Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>), createWriteStream(partial, { mode: 0o600 }));
    const report = await exportFile.verifyServerExportFile(partial, pinned.key);
    renameSync(partial, out);
    if (!values.json) io.stdout(`Downloaded the org-wide export to ${out}; checked against the server key pinned at enrolment (fingerprint ${pinned.fingerprint}).\n`);
    return journalCli.reportServerExport(out, report, values.json === true, io);
  } catch (error) {
    rmSync(partial, { force: true });
    if (error instanceof HalfkeyError) {
      io.stderr(`halfkey review: ${error.message}\n`);
      return exitCodeFor(error);
    }
    if (error instanceof ServerUnreachable) {
      io.stderr(`halfkey review: ${error.message}\n`);
      return 1;
    }
    throw error;
  } finally {
    vault.close();
  }
}

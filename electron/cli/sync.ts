import { resolve } from 'node:path';
import { HalfkeyError } from '../../shared/api/result';
import { qrCodeOf } from '../base/qr-code';
import { SyncClient, type SyncStatus } from '../sync/client';
import { exitCodeFor, parseOptions, UsageError, type CliIo } from './main';
import { readSecretFile } from './secret-input';

const USAGE = 'usage: halfkey sync --vault DIR [--enroll URL --token-file FILE [--fingerprint FINGERPRINT] | --repin FINGERPRINT]';

/** A status in a few human lines; the fingerprint is what a person compares with the server operator's. */
export function describeStatus(status: SyncStatus): string {
  return [
    `state: ${status.state}`,
    `pending entries: ${status.pending}`,
    `server: ${status.serverUrl ?? '(not enrolled)'}`,
    `server key fingerprint: ${status.serverFingerprint ?? '-'}`,
    `last receipt for seq: ${status.ackedSeq ?? '-'}`,
    ...(status.lastError ? [`last error: ${status.lastError}`] : []),
    // Recorded in the journal when the server's signed log stopped extending what this device saw.
    ...(status.serverLogInconsistency
      ? [`server log inconsistent (${status.serverLogInconsistency.reason}, journal seq ${status.serverLogInconsistency.seq}): ${status.serverLogInconsistency.message}`]
      : []),
  ].join('\n');
}

/**
 * `halfkey sync`: headless upload of the vault's journal (cron, CI, a jump host). Optionally
 * enrols first; then syncs until nothing is pending or the server refuses. Exit 0 when all
 * entries hold a verified receipt, 1 otherwise.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseOptions(argv, { vault: { type: 'string' }, enroll: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, repin: { type: 'string' }, fingerprint: { type: 'string' }, help: { type: 'boolean' } }, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (!values.vault) throw new UsageError(`--vault is required\n${USAGE}`);
  // Parsed only to refuse it by name: a token in argv shows in the process list and shell history.
  if (values.token !== undefined) throw new UsageError(`--token is refused: an enrolment token on the command line is visible to other local users and stays in shell history; put it in a file (mode 600) and pass --token-file FILE\n${USAGE}`);
  const hasToken = values['token-file'] !== undefined;
  if ((values.enroll === undefined) !== !hasToken) throw new UsageError(`--enroll needs --token-file, and a token needs --enroll\n${USAGE}`);
  if (values.repin !== undefined && values.enroll !== undefined) throw new UsageError(`--repin and --enroll go separately: --repin pins a rotated key of the server this vault already enrolled with\n${USAGE}`);
  if (values.fingerprint !== undefined && values.enroll === undefined) throw new UsageError(`--fingerprint checks the server's key at enrolment and needs --enroll (after a server key rotation use --repin FINGERPRINT)\n${USAGE}`);
  const token = values['token-file'] !== undefined ? readSecretFile(io, values['token-file'], 'enrolment token').trim() : undefined;

  const [{ openKeytarKeychain }, { Vault }] = await Promise.all([import('../keychain/keytar-keychain'), import('../vault/vault')]);
  const vault = await Vault.open(resolve(io.cwd, values.vault), await openKeytarKeychain());
  try {
    const client = new SyncClient({ db: vault.db, journal: vault.journal, signer: vault.device.signer });
    if (values.enroll !== undefined && token !== undefined) {
      const enrolled = await client.enroll(values.enroll, token, values.fingerprint);
      io.stdout(`enrolled; compare this fingerprint with the server operator's: ${enrolled.serverFingerprint}\n`);
      if (enrolled.serverFingerprint !== null) io.stdout(`${(await qrCodeOf(enrolled.serverFingerprint)).terminal}\n`);
    }
    if (values.repin !== undefined) {
      const before = client.status().serverFingerprint;
      const repinned = await client.repin(values.repin);
      io.stdout(`re-pinned the server key: fingerprint ${before ?? '-'} -> ${repinned.serverFingerprint}\n`);
    }
    let status = client.status();
    if (status.state === 'not-enrolled') throw new HalfkeyError('SYNC_FAILED', 'This vault is not enrolled with a sync server: run with --enroll URL --token-file FILE first.');
    // Each round uploads everything it can; a second round only helps after a transient failure.
    for (let round = 0; round < 3; round++) {
      status = await client.syncNow();
      if (status.pending === 0 || status.state === 'error') break;
    }
    io.stdout(`${describeStatus(status)}\n`);
    return status.pending === 0 && status.state === 'idle' ? 0 : 1;
  } catch (error) {
    if (error instanceof HalfkeyError) {
      io.stderr(`halfkey sync: ${error.message}\n`);
      return exitCodeFor(error);
    }
    throw error;
  } finally {
    vault.close();
  }
}

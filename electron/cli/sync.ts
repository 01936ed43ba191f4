import { resolve } from 'node:path';
import type { ResponseOf } from '../../shared/api/contract';
import { HalfkeyError } from '../../shared/api/result';
import { withApi } from './api';
import { parseOptions, UsageError, type CliIo } from './cli-io';
import { readSecretFile } from './secret-input';
import { terminalQr } from './terminal-qr';

type SyncStatus = ResponseOf<'sync:status'>;

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
      ? [
          `server log inconsistent (${status.serverLogInconsistency.reason}, journal seq ${status.serverLogInconsistency.seq}): ${status.serverLogInconsistency.message}`,
        ]
      : []),
  ].join('\n');
}

/**
 * `halfkey sync`: headless upload of the vault's journal (cron, CI, a jump host). Optionally
 * enrols first; then syncs until nothing is pending or the server refuses. Exit 0 when all
 * entries hold a verified receipt, 1 otherwise.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseOptions(
    argv,
    {
      vault: { type: 'string' },
      enroll: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      repin: { type: 'string' },
      fingerprint: { type: 'string' },
      help: { type: 'boolean' },
    },
    USAGE,
  );
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (!values.vault) throw new UsageError(`--vault is required\n${USAGE}`);
  // Parsed only to refuse it by name: a token in argv shows in the process list and shell history.
  if (values.token !== undefined)
    throw new UsageError(
      `--token is refused: an enrolment token on the command line is visible to other local users and stays in shell history; put it in a file (mode 600) and pass --token-file FILE\n${USAGE}`,
    );
  const hasToken = values['token-file'] !== undefined;
  if ((values.enroll === undefined) !== !hasToken)
    throw new UsageError(`--enroll needs --token-file, and a token needs --enroll\n${USAGE}`);
  if (values.repin !== undefined && values.enroll !== undefined)
    throw new UsageError(
      `--repin and --enroll go separately: --repin pins a rotated key of the server this vault already enrolled with\n${USAGE}`,
    );
  if (values.fingerprint !== undefined && values.enroll === undefined)
    throw new UsageError(
      `--fingerprint checks the server's key at enrolment and needs --enroll (after a server key rotation use --repin FINGERPRINT)\n${USAGE}`,
    );
  const token = values['token-file'] !== undefined ? readSecretFile(io, values['token-file'], 'enrolment token').trim() : undefined;

  return withApi(io, 'sync', resolve(io.cwd, values.vault), async (api) => {
    await api.call('vault:open', {});
    if (values.enroll !== undefined && token !== undefined) {
      const request = { url: values.enroll, token, ...(values.fingerprint === undefined ? {} : { fingerprint: values.fingerprint }) };
      const enrolled = await api.call('sync:enrol', request, {
        url: '--enroll',
        token: 'the token in --token-file',
        fingerprint: '--fingerprint',
      });
      io.stdout(`enrolled; compare this fingerprint with the server operator's: ${enrolled.serverFingerprint}\n`);
      if (enrolled.serverFingerprint !== null) io.stdout(`${await terminalQr(enrolled.serverFingerprint)}\n`);
    }
    if (values.repin !== undefined) {
      const before = (await api.call('sync:status', {})).serverFingerprint;
      const repinned = await api.call('sync:repin', { fingerprint: values.repin }, { fingerprint: '--repin' });
      io.stdout(`re-pinned the server key: fingerprint ${before ?? '-'} -> ${repinned.serverFingerprint}\n`);
    }
    let status = await api.call('sync:status', {});
    if (status.state === 'not-enrolled')
      throw new HalfkeyError(
        'SYNC_FAILED',
        'This vault is not enrolled with a sync server: run with --enroll URL --token-file FILE first.',
      );
    // Each round uploads everything it can; a second round only helps after a transient failure.
    for (let round = 0; round < 3; round++) {
      status = await api.call('sync:now', {});
      if (status.pending === 0 || status.state === 'error') break;
    }
    io.stdout(`${describeStatus(status)}\n`);
    return status.pending === 0 && status.state === 'idle' ? 0 : 1;
  });
}

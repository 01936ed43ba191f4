import { resolve } from 'node:path';
import { ApiFailure, withApi } from './api';
import { exitCodeFor, parseOptions, UsageError, type CliIo } from './cli-io';

const USAGE = 'usage: halfkey status --vault DIR [--json]\n';

/**
 * `halfkey status`: what app:status reports for the vault folder (what the app's status bar
 * shows), with the vault opened first. When it cannot be opened the status is still printed,
 * the reason goes to stderr and the exit code is that failure's.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const values = parseOptions(argv, { vault: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if (!values.vault) throw new UsageError(`--vault is required\n${USAGE}`);
  return withApi(io, 'status', resolve(io.cwd, values.vault), async (api) => {
    let refused: ApiFailure | null = null;
    try {
      await api.call('vault:open', {});
    } catch (error) {
      if (!(error instanceof ApiFailure)) throw error;
      refused = error;
    }
    const status = await api.call('app:status', {});
    if (values.json) {
      io.stdout(`${JSON.stringify(status, null, 2)}\n`);
    } else {
      io.stdout(
        [
          `mode: ${status.mode} (Halfkey ${status.version})`,
          `vault: ${status.vault.state}${status.vault.id === null ? '' : ` ${status.vault.id}`}${status.vault.keychainBackend === null ? '' : `, device key in ${status.vault.keychainBackend}`}`,
          `journal head: ${status.journal.seq === null ? '-' : `seq ${status.journal.seq}, ${status.journal.hash}`}`,
          `sync: ${status.sync.state}, ${status.sync.pending} pending${status.sync.serverFingerprint === null ? '' : `, server key fingerprint ${status.sync.serverFingerprint}`}`,
        ].join('\n') + '\n',
      );
    }
    if (refused === null) return 0;
    io.stderr(`halfkey status: the vault is not open: ${refused.error.message} [${refused.error.code}]\n`);
    return exitCodeFor(refused.error);
  });
}

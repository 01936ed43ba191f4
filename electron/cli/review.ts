import { resolve } from 'node:path';
import { unlockAs, withApi } from './api';
import { reportServerExport } from './journal';
import { parseOptions, UsageError, type CliIo } from './cli-io';
import { promptHidden, readSecretFile } from './secret-input';

const USAGE = 'usage: halfkey review export --vault DIR --as REVIEWER_ID --out FILE [--passphrase-file FILE] [--json]\n';

/**
 * `halfkey review export`: a reviewer unlocks their custodian key (custodian:unlock), then
 * review:export signs in to the central server with it, downloads the org-wide export and checks
 * it against the server key this vault pinned at enrolment before keeping it. Exit 0 only when
 * the export verifies; 1 when it does not (the file is kept as evidence) or the server is
 * unreachable; 3 when the server refuses the key; 2 for bad arguments.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') {
    io.stdout(USAGE);
    return 0;
  }
  if (action !== 'export') throw new UsageError(`expected 'review export', got '${action ?? ''}'\n${USAGE}`);
  const values = parseOptions(
    rest,
    {
      vault: { type: 'string' },
      as: { type: 'string' },
      out: { type: 'string' },
      'passphrase-file': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE,
  );
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  for (const flag of ['vault', 'as', 'out'] as const) if (!values[flag]) throw new UsageError(`--${flag} is required\n${USAGE}`);
  const out = resolve(io.cwd, values.out!);
  const as = values.as!;
  const passphrase =
    values['passphrase-file'] !== undefined
      ? readSecretFile(io, values['passphrase-file'], 'passphrase')
      : await promptHidden(`Passphrase for reviewer ${as}: `);
  return withApi(io, 'review export', resolve(io.cwd, values.vault!), async (api) => {
    await unlockAs(api, as, passphrase);
    const exported = await api.call('review:export', { by: as, out }, { out: '--out' });
    if (!values.json)
      io.stdout(
        `Downloaded the org-wide export to ${exported.out}; checked against the server key pinned at enrolment (fingerprint ${exported.serverFingerprint}).\n`,
      );
    return reportServerExport(exported.out, exported.report, values.json === true, io);
  });
}

import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { RequestOf, ResponseOf } from '../../shared/api/contract';
import type { ApiError } from '../../shared/api/result';
import { reportText } from '../../shared/reconcile/report-text';
import { ApiFailure, openCliApi } from './api';
import { UsageError, type CliIo } from './cli-io';

const USAGE = `usage:
  halfkey reconcile (--journal BUNDLE | --server-export FILE) [--server-key HEX]...
                    --cloudtrail PATH [PATH...] [--slack DURATION] [--json] [--csv FILE] [--pdf FILE] [--workers N]

Lists every root action at AWS (from CloudTrail) that no checkout in the journal explains.
--journal takes a device's journal bundle (halfkey journal export); --server-export the server's
org-wide reviewer export, with --server-key, the server key pinned at enrolment (for a bundle,
--server-key pins the keys its receipts may be under). The journal is verified first; one that
does not verify is refused. --cloudtrail takes CloudTrail log files (.json.gz or .json, as AWS
writes them to S3), folders of them (read recursively), and files of 'aws cloudtrail
lookup-events' output; every path after it is read too. --slack widens every checkout window at
both ends for clock skew (seconds, or 90s, 5m, 1h; default 5m).

Exit codes: 0 every root action is explained and everything was read; 1 findings need review
(unexplained, half-explained, flagged, unreadable files or records); 2 bad arguments, a missing
file, or a journal that does not verify. docs/reconciliation.md explains every finding.
`;

/** `--slack`: whole seconds, or with an s, m or h suffix. */
function slackSeconds(value: string | undefined): number {
  if (value === undefined) return 300;
  const m = /^(\d{1,6})(s|m|h)?$/.exec(value);
  if (m === null) throw new UsageError(`--slack must look like 300, 90s, 5m or 1h, got '${value}'`);
  const seconds = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  if (seconds > 24 * 3600) throw new UsageError('--slack may be at most 24 hours');
  return seconds;
}

/** Errors that mean the reconciliation could not start from what was given: exit 2. */
const ARGUMENT_ERRORS: readonly ApiError['code'][] = ['INVALID_PAYLOAD', 'NOT_FOUND', 'JOURNAL_INVALID'];

/**
 * Calls `reconcile:run` through the router as the CLI adapter. The handler needs no vault: the
 * services are opened in `cli` mode on a folder that is never created, and no vault is opened.
 */
async function callReconcile(
  payload: RequestOf<'reconcile:run'>,
): Promise<{ ok: true; value: ResponseOf<'reconcile:run'> } | { ok: false; error: ApiError }> {
  const api = await openCliApi({ vaultDir: join(tmpdir(), 'halfkey-reconcile-no-vault'), command: 'reconcile' });
  try {
    return { ok: true, value: await api.call('reconcile:run', payload) };
  } catch (error) {
    if (error instanceof ApiFailure) return { ok: false, error: error.error };
    throw error;
  } finally {
    await api.close();
  }
}

/** `halfkey reconcile …` */
export async function run(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        journal: { type: 'string' },
        'server-export': { type: 'string' },
        'server-key': { type: 'string', multiple: true },
        cloudtrail: { type: 'string', multiple: true },
        slack: { type: 'string' },
        json: { type: 'boolean' },
        csv: { type: 'string' },
        pdf: { type: 'string' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : 'bad arguments'}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if ((values.journal === undefined) === (values['server-export'] === undefined))
    throw new UsageError(`give exactly one of --journal BUNDLE and --server-export FILE\n${USAGE}`);
  const cloudtrail = [...(values.cloudtrail ?? []), ...positionals];
  if (values.cloudtrail === undefined)
    throw new UsageError(
      positionals.length > 0
        ? `unexpected argument '${positionals[0]}': CloudTrail paths follow --cloudtrail\n${USAGE}`
        : `--cloudtrail is required\n${USAGE}`,
    );
  const keys = values['server-key'] ?? [];
  if (keys.some((k) => !/^[0-9a-f]{64}$/.test(k))) throw new UsageError('--server-key must be 64 lowercase hex characters');
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 0 || workers > 64))
    throw new UsageError('--workers must be 0..64 (0: read on this thread)');
  let journal;
  if (values['server-export'] !== undefined) {
    if (keys.length !== 1)
      throw new UsageError(
        `a server export is checked against one server key: pass --server-key HEX once, the key pinned at enrolment\n${USAGE}`,
      );
    journal = { kind: 'server-export', path: resolve(io.cwd, values['server-export']), serverKey: keys[0]! } as const;
  } else {
    journal = { kind: 'bundle', path: resolve(io.cwd, values.journal!), ...(keys.length === 0 ? {} : { serverKeys: keys }) } as const;
  }
  const out = (flag: 'csv' | 'pdf'): string | undefined => {
    const value = values[flag];
    if (value === undefined) return undefined;
    if (!value.toLowerCase().endsWith(`.${flag}`)) throw new UsageError(`--${flag} must name a .${flag} file`);
    return resolve(io.cwd, value);
  };
  const payload = {
    journal,
    cloudtrail: cloudtrail.map((p) => resolve(io.cwd, p)),
    slackSeconds: slackSeconds(values.slack),
    ...(workers === undefined ? {} : { workers }),
    ...(values.csv === undefined ? {} : { csv: out('csv') }),
    ...(values.pdf === undefined ? {} : { pdf: out('pdf') }),
  };

  const result = await callReconcile(payload);
  if (!result.ok) {
    io.stderr(`halfkey reconcile: ${result.error.message}\n`);
    return ARGUMENT_ERRORS.includes(result.error.code) ? 2 : 1;
  }
  const report = result.value;
  if (values.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout(reportText(report));
  // Beside --json, stdout stays pure JSON.
  const note = values.json ? io.stderr : io.stdout;
  for (const written of [report.written.csv, report.written.pdf]) if (written !== null) note(`wrote ${written}\n`);
  return report.ok ? 0 : 1;
}

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ResponseOf } from '../../shared/api/contract';
import { BUNDLE_FORMAT, type BundleReport } from '../../shared/journal/bundle';
import type { AnchorReport } from '../../shared/journal/anchors';
import type { ServerExportReport } from '../../shared/sync/server-export';
import { withApi, type CliApi } from './api';
import { UsageError, type CliIo } from './cli-io';

const USAGE = `usage:
  halfkey journal verify BUNDLE [--full] [--json] [--server-key HEX]... [--csv FILE] [--workers N]
                         [--device-key HEX] [--against SERVER_EXPORT]
  halfkey journal export --vault DIR --out FILE [--from SEQ] [--to SEQ] [--csv FILE] [--pdf FILE]

verify reads either a device's journal bundle (halfkey journal export) or the server's org-wide
reviewer export (GET /v1/reviewer/export), told apart by the file's first line. A server export
needs --server-key, the server key pinned at enrolment: its authority is the server's signed
tree head. For a device bundle, --server-key pins the keys its receipts may be under; give it
once per key on record when the server's key was rotated. verify exits 0 only when everything in
the file verifies.

A device bundle is verified anchored by default: an entry covered by a later checkpoint that
verified is attested by that checkpoint's device signature over the recomputed Merkle root, not by
its own device signature; custodian signatures, key changes and everything after the last
checkpoint are checked in full (docs/journal-format.md, section 10.2). --full checks every
entry's own device signature as well, and reports a damaged one that anchored mode does not see.
A server export is verified by the same rule on each device's checkpoints; --full applies there too.
--workers N sets the worker threads (default one per core; 0: this thread only): a bundle is
verified by ranges on them, and a server export of 16 MiB or more with its devices' chains on
them, again on one thread if anything in it fails so that the failures reported are the same.

A bundle alone proves only that whoever held its device key wrote it. Anchors pin it to facts
from outside (docs/journal-format.md, section 10.4): --device-key HEX, the device key enrolled at
the server, which the bundle's device must be; --against SERVER_EXPORT, the server's org-wide
export (checked under --server-key): every entry of the device the server holds must be in the
bundle with the same hash (a fork is shown with both hashes), and the bundle must reach the
server's head for the device.
`;

/** `halfkey journal …` */
export function run(argv: string[], io: CliIo): Promise<number> {
  return runJournal(argv, io);
}

export async function runJournal(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(USAGE);
    return 0;
  }
  switch (sub) {
    case 'verify':
      return verify(rest, io);
    case 'export':
      return exportCommand(rest, io);
    case undefined:
    case '--help':
    case '-h':
      (sub === undefined ? io.stderr : io.stdout)(USAGE);
      return sub === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown subcommand '${sub}'\n${USAGE}`);
  }
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, positionals: number) {
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
    if (parsed.positionals.length !== positionals)
      throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}\n${USAGE}`);
    return parsed;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
}

const seqArg = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`--${name} must be a sequence number, got '${value}'`);
  return Number(value);
};

/**
 * `journal verify FILE` does not go through the router: it reads a bundle or a server export FILE
 * and touches no vault and no service, so it calls the pure file verifiers (over shared/'s
 * verifier) directly. The lint allows electron/cli/ exactly these three feature modules.
 */
async function verify(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      json: { type: 'boolean' },
      full: { type: 'boolean' },
      'server-key': { type: 'string', multiple: true },
      csv: { type: 'string' },
      workers: { type: 'string' },
      'device-key': { type: 'string' },
      against: { type: 'string' },
    },
    1,
  );
  const path = resolve(io.cwd, positionals[0]!);
  if (!existsSync(path)) throw new UsageError(`no bundle at ${path}`);
  const serverKeys = values['server-key'] ?? [];
  if (serverKeys.some((k) => !/^[0-9a-f]{64}$/.test(k))) throw new UsageError('--server-key must be 64 lowercase hex characters');
  const serverKey = serverKeys[0];
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 0 || workers > 64))
    throw new UsageError('--workers must be 0..64 (0: verify on this thread)');
  const exportFile = await import('../sync/server-export-file');
  const format = await exportFile.fileFormat(path);
  if (format === exportFile.SERVER_EXPORT_FORMAT) {
    if (serverKey === undefined)
      throw new UsageError(
        `${path} is a server export (${format}): pass --server-key HEX, the server key pinned at enrolment, to check its signed tree head against`,
      );
    if (serverKeys.length > 1) throw new UsageError('a server export is signed under one key: pass --server-key once');
    if (values.csv !== undefined) throw new UsageError('--csv applies to a device journal bundle, not to a server export');
    const full = values.full === true;
    const report = await exportFile.verifyServerExportFile(path, serverKey, { full, ...(workers === undefined ? {} : { workers }) });
    return reportServerExport(path, report, values.json === true, io);
  }
  const anchors = await anchorOptions(values['device-key'], values.against, serverKeys, io, exportFile);
  const csvPath = values.csv === undefined ? undefined : resolve(io.cwd, values.csv);
  if (csvPath !== undefined && !existsSync(csvPath))
    throw new UsageError(`no CSV at ${csvPath} (--csv names the exported CSV to check against the bundle)`);
  const options = {
    mode: values.full === true ? ('full' as const) : ('anchored' as const),
    ...(serverKeys.length === 0 ? {} : { serverKeys }),
    ...(csvPath === undefined ? {} : { csvPath }),
  };
  const report =
    workers === 0
      ? await (await import('../journal/bundle-file')).verifyBundleFile(path, options)
      : await (await import('../journal/parallel-verify')).verifyBundleFileParallel(path, { ...options, workers });
  const anchored = anchors === null ? null : await exportFile.checkBundleAnchors(path, anchors);
  if (values.json)
    io.stdout(`${JSON.stringify({ format: BUNDLE_FORMAT, ...report, ...(anchored === null ? {} : { anchors: anchored }) }, null, 2)}\n`);
  else io.stdout(humanSummary(path, report, anchored));
  if (report.ok && anchored !== null && !anchored.ok) {
    io.stderr(`verification FAILED at the anchors: ${anchored.findings[0]}\n`);
    return 1;
  }
  if (!report.ok) {
    const first = report.failures[0];
    io.stderr(
      first
        ? `verification FAILED at ${first.seq === null ? 'the bundle' : `seq ${first.seq}`}: ${first.code}: ${first.reason}\n`
        : 'verification FAILED\n',
    );
    return 1;
  }
  return 0;
}

/** A person's summary, in the spirit of `aws cloudtrail validate-logs`. */
export function humanSummary(path: string, report: BundleReport, anchors: AnchorReport | null = null): string {
  const m = report.manifest;
  const lines = [`Validating journal bundle ${path} (format ${BUNDLE_FORMAT})`];
  if (m) {
    lines.push(`Vault ${m.vault}, device ${m.device.slice(0, 16)}…, exported ${new Date(m.exportedAt).toISOString()}`);
    lines.push(`Results requested for seq ${m.requested.from} to ${m.requested.to ?? 'the end of the journal'}`);
  }
  lines.push(report.found ? `Results found for seq ${report.found.from} to ${report.found.to}:` : 'No entries found:');
  const bad = new Set(report.failures.filter((f) => f.seq !== null).map((f) => f.seq));
  lines.push(`${report.entries - bad.size}/${report.entries} entries valid`);
  lines.push(
    report.mode === 'anchored'
      ? `Mode: anchored: ${report.chain.anchoredEntries} entries attested by a later checkpoint's device signature, the rest (and every custodian signature) checked one by one; --full checks every device signature`
      : 'Mode: full: every signature of every entry checked',
  );
  const manifestBad = report.failures.some(
    (f) =>
      f.code === 'BAD_MANIFEST_SIGNATURE' ||
      f.code === 'PART_HASH_MISMATCH' ||
      f.code === 'MANIFEST_MISMATCH' ||
      (f.code === 'BAD_BUNDLE' && /manifest/.test(f.reason)),
  );
  lines.push(`${m && !manifestBad ? 1 : 0}/1 manifest valid`);
  lines.push(`${report.receipts.valid}/${report.receipts.count} receipts valid`);
  if (report.chain.uncleanSessions > 0) {
    const n = report.chain.uncleanSessions;
    lines.push(
      `Finding: ${n} session${n === 1 ? '' : 's'} ended uncleanly (a session.started with no session.ended before it). Either the app stopped without closing (a crash or power loss), or entries were cut from the end of that session and the journal went on. Compare with known crashes; --against SERVER_EXPORT shows whether synced entries were cut.`,
    );
  }
  for (const f of report.failures.slice(0, 20))
    lines.push(`${f.seq === null ? 'Bundle' : `Entry seq ${f.seq}`} INVALID: ${f.code}: ${f.reason}`);
  if (report.failureCount > 20) lines.push(`… and ${report.failureCount - 20} more failures (use --json for all)`);
  if (anchors !== null) lines.push(...anchorLines(anchors));
  const ok = report.ok && (anchors?.ok ?? true);
  lines.push(
    ok
      ? 'Result: VALID'
      : report.ok
        ? 'Result: INVALID (the bundle verifies, but not against its anchors)'
        : `Result: INVALID (${report.failureCount} failure${report.failureCount === 1 ? '' : 's'})`,
  );
  return `${lines.join('\n')}\n`;
}

/** The anchors' part of the summary: what each pinned, in words. */
function anchorLines(a: AnchorReport): string[] {
  const lines = ['Anchors:'];
  if (a.deviceKey !== null)
    lines.push(a.deviceKey.ok ? `  device key ${a.deviceKey.expected}: the bundle is this device's` : '  device key: MISMATCH');
  if (a.server !== null) {
    const s = a.server;
    lines.push(
      `  server export: ${s.exportOk ? 'verified' : 'does NOT verify'}; server head of this device ${s.serverHead === null ? 'none' : `seq ${s.serverHead.seq}`}, bundle head ${s.bundleHead === null ? 'none' : `seq ${s.bundleHead.seq}`}; ${s.compared} entries compared, ${s.forkCount} differ`,
    );
    for (const f of s.forks) lines.push(`  FORK at seq ${f.seq}: bundle ${f.bundleHash}, server ${f.serverHash}`);
  }
  for (const f of a.findings) lines.push(`  Finding: ${f}`);
  return lines;
}

/**
 * --device-key and --against, checked before anything is verified. The export is verified under
 * the --server-key its header names (one of those given), so receipts under older keys stay pinnable.
 */
async function anchorOptions(
  deviceKey: string | undefined,
  against: string | undefined,
  serverKeys: readonly string[],
  io: CliIo,
  exportFile: typeof import('../sync/server-export-file'),
): Promise<{ deviceKey?: string; against?: { path: string; serverKey: string } } | null> {
  if (deviceKey === undefined && against === undefined) return null;
  if (deviceKey !== undefined && !/^[0-9a-f]{64}$/.test(deviceKey))
    throw new UsageError('--device-key must be 64 lowercase hex characters: the device id the server enrolled (its genesis key)');
  if (against === undefined) return { ...(deviceKey === undefined ? {} : { deviceKey }) };
  const path = resolve(io.cwd, against);
  if (!existsSync(path)) throw new UsageError(`no server export at ${path} (--against names the server's org-wide export)`);
  const header = await exportFile.exportHeaderKey(path);
  if (header === null)
    throw new UsageError(`${path} is not a server export (its first line names no ${exportFile.SERVER_EXPORT_FORMAT} header)`);
  if (serverKeys.length === 0)
    throw new UsageError('--against needs --server-key HEX, the server key pinned at enrolment, to check the export under');
  if (!serverKeys.includes(header))
    throw new UsageError(`the server export is signed by server key ${header}, which is none of the --server-key values given`);
  return { ...(deviceKey === undefined ? {} : { deviceKey }), against: { path, serverKey: header } };
}

export function reportServerExport(path: string, report: ServerExportReport, json: boolean, io: CliIo): number {
  if (json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout(serverExportSummary(path, report));
  if (report.ok) return 0;
  const first = report.failures[0];
  if (first === undefined) {
    io.stderr('verification FAILED\n');
  } else {
    const where = first.device === null ? 'the export' : `device ${first.device}${first.seq === null ? '' : ` seq ${first.seq}`}`;
    io.stderr(`verification FAILED at ${where}: ${first.code}: ${first.reason}\n`);
  }
  return 1;
}

/** A person's summary of a server export: the signed head, then one line per device. */
export function serverExportSummary(path: string, report: ServerExportReport): string {
  const lines = [`Validating server export ${path} (format ${report.format})`];
  const h = report.treeHead;
  const headBad = report.failures.some(
    (f) => f.code === 'BAD_TREE_HEAD' || f.code === 'SERVER_KEY_MISMATCH' || (f.code === 'BAD_BUNDLE' && f.line === null),
  );
  lines.push(
    h
      ? `Signed tree head: ${h.size} entries, root ${h.root.slice(0, 16)}…, signed ${new Date(h.timestamp).toISOString()}`
      : 'Signed tree head: missing',
  );
  lines.push(`${h && !headBad ? 1 : 0}/1 tree head valid under server key ${report.serverKey.slice(0, 16)}…`);
  const bad = new Set(report.failures.filter((f) => f.line !== null).map((f) => f.line));
  lines.push(
    `${report.entries - bad.size}/${report.entries} entries valid, from ${report.devices.length} device${report.devices.length === 1 ? '' : 's'}:`,
  );
  for (const d of report.devices) {
    const head = d.head ? `seq 0..${d.head.seq}, head ${d.head.hash.slice(0, 16)}…` : 'no head';
    lines.push(
      `  device ${d.device} (vault ${d.vault}): ${d.entries} entries, ${head}: ${d.ok ? 'VALID' : `INVALID (${d.failureCount} failure${d.failureCount === 1 ? '' : 's'})`}`,
    );
  }
  if (report.reviews.length > 0) {
    lines.push(`${report.reviews.filter((r) => r.ok).length}/${report.reviews.length} reviews valid (signed acknowledgements in the log):`);
    for (const r of report.reviews) {
      const subject = r.subject === null ? 'an unreadable subject' : `${r.subject.kind} ${r.subject.id}`;
      lines.push(
        `  log index ${r.logIndex}: ${subject}, ${r.finding ?? '?'}, by reviewer key ${r.reviewer ?? '?'}: ${r.ok ? 'VALID' : 'INVALID'}`,
      );
    }
  }
  for (const f of report.failures.slice(0, 20)) {
    const where =
      f.device === null ? (f.line === null ? 'Export' : `Line ${f.line}`) : `Device ${f.device.slice(0, 16)}… seq ${f.seq ?? '?'}`;
    lines.push(`${where} INVALID: ${f.code}: ${f.reason}`);
  }
  if (report.failureCount > 20) lines.push(`… and ${report.failureCount - 20} more failures (use --json for all)`);
  lines.push(report.ok ? 'Result: VALID' : `Result: INVALID (${report.failureCount} failure${report.failureCount === 1 ? '' : 's'})`);
  return `${lines.join('\n')}\n`;
}

async function exportCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(
    args,
    {
      vault: { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      csv: { type: 'string' },
      pdf: { type: 'string' },
    },
    0,
  );
  if (values.vault === undefined || values.out === undefined) throw new UsageError(`--vault and --out are required\n${USAGE}`);
  const vaultDir = resolve(io.cwd, values.vault);
  const from = seqArg(values.from, 'from');
  const to = seqArg(values.to, 'to');
  // Before the vault is opened: a refused range writes nothing, not even a session.
  if (to !== undefined && to < (from ?? 0))
    throw new UsageError(`--to ${to} is before --from ${from ?? 0}: give a range that runs forwards`);
  const request = {
    out: resolve(io.cwd, values.out),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
    ...(values.csv === undefined ? {} : { csv: resolve(io.cwd, values.csv) }),
    ...(values.pdf === undefined ? {} : { pdf: resolve(io.cwd, values.pdf) }),
  };
  return withApi(io, 'journal export', vaultDir, async (api) => {
    if ((await api.call('app:status', {})).vault.state === 'none') throw new UsageError(`no vault at ${vaultDir} (vault.db is missing)`);
    await api.call('vault:open', {});
    const words = { out: '--out', from: '--from', to: '--to', csv: '--csv', pdf: '--pdf' };
    const exported = await whileShowingProgress(api, io, api.call('journal:export', request, words));
    io.stdout(`wrote ${exported.bundle}: entries 0..${exported.head.seq}, head ${exported.head.hash}\n`);
    if (exported.csv !== null) io.stdout(`wrote ${exported.csv}\n`);
    if (exported.pdf !== null) io.stdout(`wrote ${exported.pdf}\n`);
    return 0;
  });
}

/** Shows a long export's progress on stderr, read from journal:export-progress as the app's screen reads it. */
async function whileShowingProgress(
  api: CliApi,
  io: CliIo,
  exporting: Promise<ResponseOf<'journal:export'>>,
): Promise<ResponseOf<'journal:export'>> {
  let shown = false;
  const timer = setInterval(() => {
    api.call('journal:export-progress', {}).then(
      (p) => {
        if (p === null || p.phase !== 'entries' || p.total <= 50_000) return;
        io.stderr(`\rexporting ${p.done}/${p.total}`);
        shown = true;
      },
      () => {},
    );
  }, 1000);
  try {
    return await exporting;
  } finally {
    clearInterval(timer);
    if (shown) io.stderr('\n');
  }
}

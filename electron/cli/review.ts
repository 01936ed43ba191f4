import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AcknowledgementView, AlarmView, IncidentView, ReviewEntryView } from '../../shared/api/channels/review';
import type { RequestOf } from '../../shared/api/contract';
import { MAX_REVIEW_TEXT, REVIEW_FINDINGS } from '../../shared/sync/review-wire';
import { unlockAs, withApi, type CliApi } from './api';
import { reportServerExport } from './journal';
import { parseOptions, UsageError, type CliIo } from './cli-io';
import { promptHidden, readSecretFile } from './secret-input';

const USAGE = `usage: halfkey review export    --vault DIR --as REVIEWER_ID --out FILE [--passphrase-file FILE] [--json]
       halfkey review incidents --vault DIR --as REVIEWER_ID [--all] [--limit N] [--after NEXT] [--passphrase-file FILE] [--json]
       halfkey review alarms    --vault DIR --as REVIEWER_ID [--all] [--limit N] [--after NEXT] [--passphrase-file FILE] [--json]
       halfkey review ack       --vault DIR --as REVIEWER_ID (--incident ID | --alarm ID) --finding ${REVIEW_FINDINGS.join('|')}
                                --rotation-done yes|no (--text TEXT | --text-file FILE) [--passphrase-file FILE] [--json]

The reviewer signs in to the server this vault enrolled with, using their custodian key.
incidents, alarms: the open queue (--all: acknowledged items too), every item checked on this
machine under the pinned server key; exit 1 when any item fails its checks.
ack: a review signed with the reviewer's key; refused (exit 3) for the reviewer's own break-glass.
Exit codes: 0 done, 1 failed checks or server unreachable, 2 bad arguments, 3 refused by rule.
`;

/** Largest --text-file read (a review's text is at most MAX_REVIEW_TEXT characters). */
const MAX_TEXT_FILE_BYTES = 64 * 1024;

const COMMON = {
  vault: { type: 'string' },
  as: { type: 'string' },
  'passphrase-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `halfkey review export|incidents|alarms|ack`: a reviewer unlocks their custodian key
 * (custodian:unlock), then each action goes through the router's review:* channels, which sign in
 * to the central server with that key and check everything the server answers against the server
 * key this vault pinned at enrolment (docs/sync-protocol.md "Reviewers").
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h' || action === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  switch (action) {
    case 'export':
      return exportOrgWide(rest, io);
    case 'incidents':
    case 'alarms':
      return list(action, rest, io);
    case 'ack':
      return acknowledge(rest, io);
    default:
      throw new UsageError(`expected 'review export|incidents|alarms|ack', got '${action ?? ''}'\n${USAGE}`);
  }
}

/** Checks --vault and --as, then reads the reviewer's passphrase (file or hidden prompt). */
async function reviewer(
  values: { vault?: string; as?: string; 'passphrase-file'?: string },
  io: CliIo,
): Promise<{ vault: string; as: string; passphrase: string }> {
  for (const flag of ['vault', 'as'] as const) if (!values[flag]) throw new UsageError(`--${flag} is required\n${USAGE}`);
  const as = values.as!;
  const passphrase =
    values['passphrase-file'] !== undefined
      ? readSecretFile(io, values['passphrase-file'], 'passphrase')
      : await promptHidden(`Passphrase for reviewer ${as}: `);
  return { vault: resolve(io.cwd, values.vault!), as, passphrase };
}

async function exportOrgWide(rest: string[], io: CliIo): Promise<number> {
  const values = parseOptions(rest, { ...COMMON, out: { type: 'string' } }, USAGE);
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  for (const flag of ['vault', 'as', 'out'] as const) if (!values[flag]) throw new UsageError(`--${flag} is required\n${USAGE}`);
  const out = resolve(io.cwd, values.out!);
  const { vault, as, passphrase } = await reviewer(values, io);
  return withApi(io, 'review export', vault, async (api) => {
    await unlockAs(api, as, passphrase);
    const exported = await api.call('review:export', { by: as, out }, { out: '--out' });
    if (!values.json)
      io.stdout(
        `Downloaded the org-wide export to ${exported.out}; checked against the server key pinned at enrolment (fingerprint ${exported.serverFingerprint}).\n`,
      );
    return reportServerExport(exported.out, exported.report, values.json === true, io);
  });
}

async function list(what: 'incidents' | 'alarms', rest: string[], io: CliIo): Promise<number> {
  const values = parseOptions(rest, { ...COMMON, all: { type: 'boolean' }, limit: { type: 'string' }, after: { type: 'string' } }, USAGE);
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    if (!/^[1-9][0-9]{0,3}$/.test(values.limit)) throw new UsageError(`--limit must be a whole number from 1 to 200\n${USAGE}`);
    limit = Number(values.limit);
  }
  const { vault, as, passphrase } = await reviewer(values, io);
  const request: RequestOf<'review:incidents'> = {
    by: as,
    state: values.all ? 'all' : 'open',
    ...(limit === undefined ? {} : { limit }),
    ...(values.after === undefined ? {} : { after: values.after }),
  };
  const words = { limit: '--limit', after: '--after' };
  return withApi(io, `review ${what}`, vault, async (api) => {
    await unlockAs(api, as, passphrase);
    const answer =
      what === 'incidents' ? await api.call('review:incidents', request, words) : await api.call('review:alarms', request, words);
    const items: (IncidentView | AlarmView)[] = 'incidents' in answer ? answer.incidents : answer.alarms;
    const failed = items.filter((i) => !i.verified).length;
    if (values.json) {
      io.stdout(`${JSON.stringify(answer, null, 2)}\n`);
    } else {
      io.stdout(printList(what, answer.serverFingerprint, answer.headProblem, items, answer.next));
    }
    return failed === 0 && answer.headProblem === null ? 0 : 1;
  });
}

async function acknowledge(rest: string[], io: CliIo): Promise<number> {
  const values = parseOptions(
    rest,
    {
      ...COMMON,
      incident: { type: 'string' },
      alarm: { type: 'string' },
      finding: { type: 'string' },
      'rotation-done': { type: 'string' },
      text: { type: 'string' },
      'text-file': { type: 'string' },
    },
    USAGE,
  );
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  if ((values.incident === undefined) === (values.alarm === undefined))
    throw new UsageError(`give exactly one of --incident ID or --alarm ID\n${USAGE}`);
  if (values.finding === undefined || !(REVIEW_FINDINGS as readonly string[]).includes(values.finding))
    throw new UsageError(`--finding must be one of ${REVIEW_FINDINGS.join(', ')}\n${USAGE}`);
  if (values['rotation-done'] !== 'yes' && values['rotation-done'] !== 'no')
    throw new UsageError(`--rotation-done must be yes or no\n${USAGE}`);
  if ((values.text === undefined) === (values['text-file'] === undefined))
    throw new UsageError(`give exactly one of --text TEXT or --text-file FILE\n${USAGE}`);
  const text = values.text ?? readTextFile(io, values['text-file']!);
  const subject =
    values.incident !== undefined ? { kind: 'incident' as const, id: values.incident } : { kind: 'alarm' as const, id: values.alarm! };
  const { vault, as, passphrase } = await reviewer(values, io);
  const request: RequestOf<'review:acknowledge'> = {
    by: as,
    subject,
    finding: values.finding as RequestOf<'review:acknowledge'>['finding'],
    rotationDone: values['rotation-done'] === 'yes',
    text,
  };
  const words = {
    subject: subject.kind === 'incident' ? '--incident' : '--alarm',
    'subject.id': subject.kind === 'incident' ? '--incident' : '--alarm',
    finding: '--finding',
    text: values.text === undefined ? '--text-file' : '--text',
  };
  return withApi(io, 'review ack', vault, async (api: CliApi) => {
    await unlockAs(api, as, passphrase);
    const { acknowledgement, already } = await api.call('review:acknowledge', request, words);
    if (values.json) {
      io.stdout(`${JSON.stringify({ acknowledgement, already }, null, 2)}\n`);
    } else {
      io.stdout(
        already
          ? `${subject.kind} ${subject.id} was already acknowledged; the server keeps the first acknowledgement, not this one:\n`
          : `Acknowledged ${subject.kind} ${subject.id}. Stored:\n`,
      );
      io.stdout(printAcknowledgement(acknowledgement, '  '));
    }
    return acknowledgement.verified ? 0 : 1;
  });
}

/** A --text-file: UTF-8, at most 64 KiB read (the review itself allows MAX_REVIEW_TEXT characters), one trailing newline dropped. */
function readTextFile(io: CliIo, path: string): string {
  const full = resolve(io.cwd, path);
  try {
    if (statSync(full).size > MAX_TEXT_FILE_BYTES)
      throw new UsageError(`--text-file ${path} is larger than a review's text may be (${MAX_REVIEW_TEXT} characters)`);
    return readFileSync(full, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read the --text-file ${path} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

const when = (ms: number | null): string => (ms === null ? '?' : new Date(ms).toISOString());
const badge = (verified: boolean): string => (verified ? 'VERIFIED' : 'FAILED');

function printEntry(e: ReviewEntryView): string {
  const who = e.actor === null ? 'the device' : e.actorName === null ? `custodian ${e.actor}` : `${e.actorName} (${e.actor})`;
  const half = e.half === null ? '' : `, ${e.half} half`;
  const reason = e.reason === null ? '' : ` — ${JSON.stringify(e.reason)}`;
  const problems = e.problems.map((p) => `\n        ! ${p}`).join('');
  return `    #${e.seq ?? '?'} ${when(e.time)} ${e.type}: ${who}${half}${reason} [${badge(e.verified)}]${problems}\n`;
}

function printAcknowledgement(a: AcknowledgementView, indent: string): string {
  const by = a.reviewerName === null ? a.review.reviewer : `${a.reviewerName} (${a.review.reviewer.slice(0, 16)}…)`;
  return (
    `${indent}finding ${a.review.finding}, rotation done: ${a.review.rotationDone ? 'yes' : 'no'}, by ${by} at ${when(a.review.time)}\n` +
    `${indent}text: ${JSON.stringify(a.review.text)}\n` +
    `${indent}logged at index ${a.logIndex}, hash ${a.hash} [${badge(a.verified)}]\n` +
    a.problems.map((p) => `${indent}! ${p}\n`).join('')
  );
}

function printList(
  what: 'incidents' | 'alarms',
  fingerprint: string,
  headProblem: string | null,
  items: (IncidentView | AlarmView)[],
  next: string | null,
): string {
  let out = `${items.length} ${what}, checked under the server key pinned at enrolment (fingerprint ${fingerprint}).\n`;
  if (headProblem !== null) out += `! the answer's tree head: ${headProblem}\n`;
  for (const item of items) {
    if ('session' in item) {
      out += `\nincident ${item.id} [${badge(item.verified)}] ${item.state}\n`;
      out += `  ${item.reference ?? '(no reference)'} · ${item.severity ?? '?'} · account ${item.account ?? '?'} · outcome ${item.outcome ?? 'still open'}\n`;
      if (item.reason !== null) out += `  reason: ${JSON.stringify(item.reason)}\n`;
      out += `  opened ${when(item.openedAt)} on device ${item.device.slice(0, 16)}…\n`;
    } else {
      out += `\nalarm ${item.id} [${badge(item.verified)}] ${item.state}\n`;
      out += `  ${item.kind} on device ${item.device.slice(0, 16)}… at ${when(item.raisedAt)}: ${item.message}\n`;
    }
    if (item.ownKeySigned) out += '  your own key signed an entry here: another reviewer must acknowledge it\n';
    for (const p of item.problems) out += `  ! ${p}\n`;
    if (item.entries.length > 0) out += '  entries:\n';
    for (const e of item.entries) out += printEntry(e);
    if (item.acknowledgement !== null) out += `  acknowledged:\n${printAcknowledgement(item.acknowledgement, '    ')}`;
  }
  if (next !== null) out += `\nmore: --after ${next}\n`;
  return out;
}

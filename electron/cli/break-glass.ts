import { resolve } from 'node:path';
import type { BreakGlassSession } from '../../shared/api/channels/break-glass';
import { unlockAs, withApi, type CliApi } from './api';
import { parseOptions, UsageError, type CommandRunner } from './cli-io';
import { promptHidden, readSecretFile } from './secret-input';

const USAGE = `usage: halfkey break-glass <step> --vault DIR [options]   (runbook: docs/break-glass.md)
  open          --as ID --account ID --reference REF --reason TEXT --severity critical|high|medium|low [--lease 60m]
  status        [--session ID | --account ID] [--all] [--json]          (no passphrase needed)
  use-password  --as ID (--session ID | --account ID) [--seconds 60]    the password custodian: prints the password
  use-mfa       --as ID (--session ID | --account ID) [--codes N]       the MFA custodian (another person): prints codes
  reveal        --as ID (--session ID | --account ID)                   the password custodian: the password again
  code          --as ID (--session ID | --account ID) [--codes N]       the MFA custodian: the current code again
  close         --as ID (--session ID | --account ID) --outcome resolved|aborted --note TEXT
  resume        --as ID (--session ID | --account ID)                   after the app or the machine stopped mid-ceremony
  runbook       --account ID --out FILE.pdf                             prints the account's runbook (no passphrase, no secret)

Each custodian types their own passphrase for their own step (a hidden prompt, or --passphrase-file FILE);
it is never taken from the command line. --account ID picks the account's open session.
Exit codes: 0 done, 1 failed, 2 bad arguments, 3 refused (one person cannot use both halves).
`;

const STEPS = ['open', 'status', 'use-password', 'use-mfa', 'reveal', 'code', 'close', 'resume', 'runbook'] as const;
type Step = (typeof STEPS)[number];

const OPTIONS = {
  vault: { type: 'string' },
  as: { type: 'string' },
  'passphrase-file': { type: 'string' },
  session: { type: 'string' },
  account: { type: 'string' },
  reference: { type: 'string' },
  reason: { type: 'string' },
  severity: { type: 'string' },
  lease: { type: 'string' },
  seconds: { type: 'string' },
  codes: { type: 'string' },
  outcome: { type: 'string' },
  note: { type: 'string' },
  out: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>;

/** Which options each step takes besides --vault, --as and --passphrase-file. */
const TAKES: Readonly<Record<Step, readonly (keyof typeof OPTIONS)[]>> = {
  open: ['account', 'reference', 'reason', 'severity', 'lease'],
  status: ['session', 'account', 'all', 'json'],
  'use-password': ['session', 'account', 'seconds'],
  'use-mfa': ['session', 'account', 'codes'],
  reveal: ['session', 'account', 'seconds'],
  code: ['session', 'account', 'codes'],
  close: ['session', 'account', 'outcome', 'note'],
  resume: ['session', 'account'],
  runbook: ['account', 'out'],
};

/** Field names of the break-glass requests in this command's words. */
const WORDS = {
  sessionId: '--session',
  'incident.reference': '--reference',
  'incident.reason': '--reason',
  'incident.severity': '--severity',
  leaseMinutes: '--lease',
  outcome: '--outcome',
  note: '--note',
  seconds: '--seconds',
  out: '--out',
};

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`--${flag} is required\n${USAGE}`);
  return value;
}

function wholeNumber(value: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

/** `90m`, `2h` or a number of minutes. */
function leaseMinutes(text: string | undefined): number {
  if (text === undefined) return 60;
  const match = /^(\d+)([mh]?)$/.exec(text);
  if (!match) throw new UsageError(`--lease must look like 45m or 2h, got '${text}'`);
  const minutes = Number(match[1]) * (match[2] === 'h' ? 60 : 1);
  if (minutes < 5 || minutes > 480) throw new UsageError('--lease must be between 5 minutes and 8 hours');
  return minutes;
}

/** `halfkey break-glass <step> …` */
export const run: CommandRunner = async (argv, io) => {
  const [step, ...rest] = argv;
  if (step === undefined || step === '--help' || step === '-h') {
    (step === undefined ? io.stderr : io.stdout)(USAGE);
    return step === undefined ? 2 : 0;
  }
  if (!(STEPS as readonly string[]).includes(step))
    throw new UsageError(`unknown step '${step}'; expected one of ${STEPS.join(', ')}\n${USAGE}`);
  const name = step as Step;
  const v = parseOptions(rest, OPTIONS, USAGE);
  if (v.help === true) return (io.stdout(USAGE), 0);
  // Every argument is checked before a passphrase is asked for or the vault opens.
  const given = Object.keys(v).filter((k) => !['vault', 'as', 'passphrase-file', 'help'].includes(k));
  const stray = given.find((k) => !TAKES[name].includes(k as keyof typeof OPTIONS));
  if (stray !== undefined) throw new UsageError(`--${stray} is not an option of 'break-glass ${name}'\n${USAGE}`);
  if (v.session !== undefined && v.account !== undefined && name !== 'status')
    throw new UsageError('give --session or --account, not both');
  const vaultDir = resolve(io.cwd, need(v.vault ?? io.env.HALFKEY_VAULT, 'vault'));
  const out = (text: string) => io.stdout(`${text}\n`);
  if (name === 'status') {
    return withApi(io, 'break-glass status', vaultDir, async (api) => {
      await api.call('vault:open', {});
      const sessions =
        v.session !== undefined
          ? [await api.call('break-glass:get', { sessionId: v.session }, WORDS)]
          : (await api.call('break-glass:list', { ...(v.account === undefined ? {} : { accountId: v.account }), open: v.all !== true }))
              .sessions;
      if (v.json === true) out(JSON.stringify(sessions, null, 2));
      else if (sessions.length === 0)
        out(v.all === true ? 'No break-glass sessions.' : 'No open break-glass session, and none awaiting rotation.');
      else for (const s of sessions) out(describe(s));
      return 0;
    });
  }
  if (name === 'runbook') {
    const accountId = need(v.account, 'account');
    const file = resolve(io.cwd, need(v.out, 'out'));
    return withApi(io, 'break-glass runbook', vaultDir, async (api) => {
      await api.call('vault:open', {});
      const printed = await api.call('break-glass:runbook', { accountId, out: file }, { ...WORDS, accountId: '--account' });
      const names = (holders: readonly { name: string; organisation: string }[]) =>
        holders.length === 0 ? 'nobody' : holders.map((h) => `${h.name} (${h.organisation})`).join(', ');
      out(`wrote ${printed.out}: the break-glass runbook of account ${printed.accountId} (${printed.alias})`);
      out(`  password half: ${names(printed.holders.password)}; MFA half: ${names(printed.holders.mfa)}`);
      return 0;
    });
  }
  const prepared = prepare(name, v);
  const as = need(v.as, 'as');
  const passphrase =
    v['passphrase-file'] === undefined
      ? await promptHidden(`Passphrase for custodian ${as}: `)
      : readSecretFile(io, v['passphrase-file'], 'passphrase');
  return withApi(io, `break-glass ${name}`, vaultDir, async (api) => {
    await unlockAs(api, as, passphrase);
    await prepared(api, as, out);
    return 0;
  });
};

type Perform = (api: CliApi, as: string, out: (text: string) => void) => Promise<void>;

function prepare(step: Exclude<Step, 'status' | 'runbook'>, v: Values): Perform {
  if (step === 'open') {
    const accountId = need(v.account, 'account');
    const severity = need(v.severity, 'severity');
    if (!['critical', 'high', 'medium', 'low'].includes(severity))
      throw new UsageError(`--severity must be one of critical, high, medium, low, got '${severity}'`);
    const incident = { reference: need(v.reference, 'reference'), reason: need(v.reason, 'reason'), severity: severity as 'critical' };
    const lease = leaseMinutes(v.lease);
    return async (api, as, out) => {
      const s = await api.call(
        'break-glass:open',
        { by: as, accountId, incident, leaseMinutes: lease },
        { ...WORDS, accountId: '--account' },
      );
      out(describe(s));
      out(`next: the password custodian runs 'halfkey break-glass use-password --session ${s.sessionId}' with their own passphrase`);
    };
  }
  const target = { session: v.session, account: v.account };
  if (target.session === undefined && target.account === undefined) throw new UsageError(`--session or --account is required\n${USAGE}`);
  const seconds = wholeNumber(v.seconds, 'seconds', 1, 600, 60);
  const codes = wholeNumber(v.codes, 'codes', 1, 20, 1);
  switch (step) {
    case 'use-password':
      return async (api, as, out) => {
        const sessionId = await sessionOf(api, target);
        const used = await api.call('break-glass:use-password', { by: as, sessionId, seconds }, WORDS);
        out(`password half used: checkout ${used.checkoutId}, open until ${iso(used.session.password?.leaseUntil ?? 0)}`);
        out(used.password);
        out(`next: the MFA custodian (not you) runs 'halfkey break-glass use-mfa --session ${sessionId}' with their own passphrase`);
      };
    case 'reveal':
      return async (api, as, out) => {
        const session = await api.call('break-glass:get', { sessionId: await sessionOf(api, target) }, WORDS);
        if (session.password === null)
          throw new UsageError(`the password half of session ${session.sessionId} has not been used yet: use-password first`);
        out((await api.call('custody:reveal', { by: as, checkoutId: session.password.checkoutId, seconds })).password);
      };
    case 'use-mfa':
      return async (api, as, out) => {
        const sessionId = await sessionOf(api, target);
        const used = await api.call('break-glass:use-mfa', { by: as, sessionId }, WORDS);
        out(`MFA half used: checkout ${used.checkoutId}`);
        out(`${used.code} (valid for ${Math.ceil(used.remainingMs / 1000)} s)`);
        await moreCodes(api, as, used.checkoutId, codes - 1, used.remainingMs, out);
        out(
          `when the work at AWS is done and you have signed out: 'halfkey break-glass close --session ${sessionId} --outcome resolved --note TEXT'`,
        );
      };
    case 'code':
      return async (api, as, out) => {
        const session = await api.call('break-glass:get', { sessionId: await sessionOf(api, target) }, WORDS);
        if (session.mfa === null) throw new UsageError(`the MFA half of session ${session.sessionId} has not been used yet: use-mfa first`);
        const first = await api.call('custody:totp-code', { by: as, checkoutId: session.mfa.checkoutId });
        out(`${first.code} (valid for ${Math.ceil(first.remainingMs / 1000)} s)`);
        await moreCodes(api, as, session.mfa.checkoutId, codes - 1, first.remainingMs, out);
      };
    case 'close': {
      const outcome = need(v.outcome, 'outcome');
      if (outcome !== 'resolved' && outcome !== 'aborted') throw new UsageError(`--outcome must be resolved or aborted, got '${outcome}'`);
      const note = need(v.note, 'note');
      return async (api, as, out) => {
        const s = await api.call('break-glass:close', { by: as, sessionId: await sessionOf(api, target), outcome, note }, WORDS);
        out(describe(s));
        out("next: rotate each half that was used ('halfkey rotate', then 'halfkey rotate --confirm' approved by a second custodian)");
      };
    }
    case 'resume':
      return async (api, as, out) => {
        const s = await api.call('break-glass:resume', { by: as, sessionId: await sessionOf(api, target) }, WORDS);
        out(describe(s));
      };
  }
}

/** Prints `count` further codes, each when the previous one has run out. */
async function moreCodes(
  api: CliApi,
  as: string,
  checkoutId: string,
  count: number,
  firstRemainingMs: number,
  out: (t: string) => void,
): Promise<void> {
  let wait = firstRemainingMs;
  for (let i = 0; i < count; i += 1) {
    await new Promise((done) => setTimeout(done, wait + 50));
    const next = await api.call('custody:totp-code', { by: as, checkoutId });
    out(`${next.code} (valid for ${Math.ceil(next.remainingMs / 1000)} s)`);
    wait = next.remainingMs;
  }
}

/** The session named by --session, or the open one of --account. */
async function sessionOf(api: CliApi, target: { session: string | undefined; account: string | undefined }): Promise<string> {
  if (target.session !== undefined) return target.session;
  const accountId = target.account ?? '';
  const { sessions } = await api.call('break-glass:list', { accountId }, { accountId: '--account' });
  const open = sessions.find((s) => s.state !== 'closed');
  if (open === undefined) throw new UsageError(`account ${accountId} has no open break-glass session; give --session ID`);
  return open.sessionId;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A session in a few lines a person reads under pressure. */
function describe(s: BreakGlassSession): string {
  const lines = [
    `session ${s.sessionId}  account ${s.accountId} (${s.alias})  incident ${s.reference} [${s.severity}]`,
    `  state: ${s.state}${s.interruptedAt === null ? '' : ` (interrupted at ${iso(s.interruptedAt)})`}; next: ${s.next}`,
    `  opened ${iso(s.openedAt)} by ${s.openedByName}: ${s.reason}`,
  ];
  for (const [item, use] of [
    ['password', s.password],
    ['MFA', s.mfa],
  ] as const) {
    if (use !== null)
      lines.push(
        `  ${item} half: used by ${use.custodianName} at ${iso(use.usedAt)}, checkout ${use.checkoutId} ${use.checkoutOpen ? `open until ${iso(use.leaseUntil)}` : 'closed'}`,
      );
  }
  if (s.closedAt !== null) lines.push(`  closed ${iso(s.closedAt)}: ${s.outcome ?? ''}: ${s.note ?? ''}`);
  if (s.rotation !== null)
    lines.push(`  rotation: password ${s.rotation.password}, MFA ${s.rotation.mfa}${s.rotation.done ? ' (done)' : ''}`);
  return lines.join('\n');
}

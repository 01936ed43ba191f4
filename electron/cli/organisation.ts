import { resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { custodianRoleSchema } from '../../shared/api/channels/vault';
import { POLICY_LIMITS } from '../../shared/api/channels/policy';
import { unlockAs, withApi, type CliApi } from './api';
import { parseOptions, UsageError, type CliIo, type CommandRunner } from './cli-io';
import { promptHidden, readSecretFile } from './secret-input';

const ROLES = custodianRoleSchema.options;

const USAGE = {
  organisation: `usage: halfkey organisation list --vault DIR [--json]
       halfkey organisation add --vault DIR --as ADMIN_ID --name NAME [--passphrase-file FILE]
       halfkey organisation channel --vault DIR --as ADMIN_ID --account ID --item email|phone (--organisation ORG | --none) [--passphrase-file FILE]

Organisations are records, compared by id (rule 3). Adding one, and naming the organisation that
holds an account's root e-mail inbox (email) or recovery phone (phone), are proposals: a second
custodian applies them with 'halfkey proposal approve'. ORG is an organisation's id or its name
(ignoring case and spacing).
`,
  policy: `usage: halfkey policy show --vault DIR [--json]
       halfkey policy set --vault DIR --as ADMIN_ID [--separate-organisations on|off] [--max-lease 7d] [--idle-lock 5m] [--passphrase-file FILE]

The vault policy: rule 3 (separate organisations) on or off, the longest lease a checkout may ask
for (1 min to 7 d) and the idle lock (1 min to 1 h). Durations: 90s, 15m, 2h, 7d. 'policy set' is
a proposal: a second custodian applies it with 'halfkey proposal approve'.
`,
  custodian: `usage: halfkey custodian role --vault DIR --as ADMIN_ID --custodian ID --role ROLE [--admin-passphrase-file FILE]
       halfkey custodian organisation --vault DIR --as ADMIN_ID --custodian ID --organisation ORG [--admin-passphrase-file FILE]
       (each a proposal: a second custodian, never the one it is about, applies it with 'halfkey proposal approve')
roles: ${ROLES.join(', ')}
`,
} as const;

type Command = keyof typeof USAGE;

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, command: Command) {
  return parseOptions(argv, { ...options, vault: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE[command]);
}

function required(value: string | boolean | undefined, flag: string, command: Command): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${flag} is required\n${USAGE[command]}`);
  return value;
}

/** `90s`, `15m`, `2h`, `7d` or a number of seconds, within the policy's bounds for `flag`. */
export function parseDuration(text: string, flag: string, bounds: { readonly min: number; readonly max: number }): number {
  const match = /^(\d{1,7})([smhd]?)$/.exec(text);
  if (!match) throw new UsageError(`--${flag} must look like 90s, 15m, 2h or 7d, got '${text}'`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, '': 1 }[match[2] as 's' | 'm' | 'h' | 'd' | ''];
  const seconds = Number(match[1]) * unit;
  if (seconds < bounds.min || seconds > bounds.max)
    throw new UsageError(`--${flag} must be between ${bounds.min} and ${bounds.max} seconds, got ${seconds}`);
  return seconds;
}

const passphraseOf = (io: CliIo, file: string | boolean | undefined, as: string): Promise<string> | string =>
  typeof file === 'string' ? readSecretFile(io, file, 'passphrase') : promptHidden(`Passphrase of admin ${as}: `);

/** What a proposal waits for, in one paragraph. */
function proposed(io: CliIo, proposal: { readonly id: string; readonly summary: string; readonly expiresAt: number }): number {
  io.stdout(
    `Proposed: ${proposal.summary}.\nProposal ${proposal.id} takes effect when a second custodian approves it before ${new Date(proposal.expiresAt).toISOString()}:\n  halfkey proposal approve --vault DIR --as APPROVER_ID --proposal ${proposal.id}\n`,
  );
  return 0;
}

/** An organisation named by id or name, as the API lists them; a usage error when there is none. */
async function organisationId(api: CliApi, text: string): Promise<string> {
  const { organisations } = await api.call('organisation:list', {});
  const folded = (s: string) => s.normalize('NFKC').trim().replace(/\s+/gu, ' ').toLowerCase();
  const found = organisations.find((o) => o.id === text) ?? organisations.find((o) => folded(o.name) === folded(text));
  if (found === undefined)
    throw new UsageError(
      `there is no organisation '${text}' in this vault; 'halfkey organisation list' shows them, 'halfkey organisation add' proposes one`,
    );
  return found.id;
}

async function organisation(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h') {
    (action === undefined ? io.stderr : io.stdout)(USAGE.organisation);
    return action === undefined ? 2 : 0;
  }
  if (action === 'list') {
    const v = parse(rest, { json: { type: 'boolean' } }, 'organisation');
    if (v.help) return (io.stdout(USAGE.organisation), 0);
    return withApi(io, 'organisation list', resolve(io.cwd, required(v.vault, 'vault', 'organisation')), async (api) => {
      await api.call('vault:open', {});
      const { organisations } = await api.call('organisation:list', {});
      if (v.json) io.stdout(`${JSON.stringify(organisations, null, 2)}\n`);
      else
        for (const o of organisations)
          io.stdout(`${o.id}  ${o.name}  (${o.origin}; ${o.members.length} custodian${o.members.length === 1 ? '' : 's'})\n`);
      return 0;
    });
  }
  if (action === 'add') {
    const v = parse(rest, { as: { type: 'string' }, name: { type: 'string' }, 'passphrase-file': { type: 'string' } }, 'organisation');
    if (v.help) return (io.stdout(USAGE.organisation), 0);
    const dir = resolve(io.cwd, required(v.vault, 'vault', 'organisation'));
    const as = required(v.as, 'as', 'organisation');
    const name = required(v.name, 'name', 'organisation');
    const passphrase = await passphraseOf(io, v['passphrase-file'], as);
    return withApi(io, 'organisation add', dir, async (api) => {
      await unlockAs(api, as, passphrase);
      return proposed(io, (await api.call('organisation:add', { by: as, name }, { name: '--name' })).proposal);
    });
  }
  if (action === 'channel') {
    const v = parse(
      rest,
      {
        as: { type: 'string' },
        account: { type: 'string' },
        item: { type: 'string' },
        organisation: { type: 'string' },
        none: { type: 'boolean' },
        'passphrase-file': { type: 'string' },
      },
      'organisation',
    );
    if (v.help) return (io.stdout(USAGE.organisation), 0);
    const dir = resolve(io.cwd, required(v.vault, 'vault', 'organisation'));
    const as = required(v.as, 'as', 'organisation');
    const accountId = required(v.account, 'account', 'organisation');
    const item = required(v.item, 'item', 'organisation');
    if (item !== 'email' && item !== 'phone') throw new UsageError(`--item must be email or phone, got '${item}'`);
    if ((v.organisation === undefined) === (v.none !== true))
      throw new UsageError(`give exactly one of --organisation ORG and --none\n${USAGE.organisation}`);
    const passphrase = await passphraseOf(io, v['passphrase-file'], as);
    return withApi(io, 'organisation channel', dir, async (api) => {
      await unlockAs(api, as, passphrase);
      const organisationIdOrNull = v.organisation === undefined ? null : await organisationId(api, v.organisation);
      const { proposal } = await api.call(
        'custody:channel-organisation',
        { by: as, accountId, item, organisationId: organisationIdOrNull },
        { organisationId: '--organisation' },
      );
      return proposed(io, proposal);
    });
  }
  throw new UsageError(
    `expected 'organisation list', 'organisation add' or 'organisation channel', got '${action}'\n${USAGE.organisation}`,
  );
}

async function policy(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h') {
    (action === undefined ? io.stderr : io.stdout)(USAGE.policy);
    return action === undefined ? 2 : 0;
  }
  if (action === 'show') {
    const v = parse(rest, { json: { type: 'boolean' } }, 'policy');
    if (v.help) return (io.stdout(USAGE.policy), 0);
    return withApi(io, 'policy show', resolve(io.cwd, required(v.vault, 'vault', 'policy')), async (api) => {
      await api.call('vault:open', {});
      const p = await api.call('policy:show', {});
      if (v.json) io.stdout(`${JSON.stringify(p, null, 2)}\n`);
      else
        io.stdout(
          `rule 3 (separate organisations): ${p.separateOrganisations ? 'on' : 'off'}\nlongest lease: ${p.maxLeaseSeconds} s\nidle lock: ${p.idleLockSeconds} s\n`,
        );
      return 0;
    });
  }
  if (action === 'set') {
    const v = parse(
      rest,
      {
        as: { type: 'string' },
        'separate-organisations': { type: 'string' },
        'max-lease': { type: 'string' },
        'idle-lock': { type: 'string' },
        'passphrase-file': { type: 'string' },
      },
      'policy',
    );
    if (v.help) return (io.stdout(USAGE.policy), 0);
    const dir = resolve(io.cwd, required(v.vault, 'vault', 'policy'));
    const as = required(v.as, 'as', 'policy');
    const separate = v['separate-organisations'];
    if (separate !== undefined && separate !== 'on' && separate !== 'off')
      throw new UsageError(`--separate-organisations must be on or off, got '${separate}'`);
    const change = {
      ...(separate === undefined ? {} : { separateOrganisations: separate === 'on' }),
      ...(v['max-lease'] === undefined
        ? {}
        : { maxLeaseSeconds: parseDuration(v['max-lease'], 'max-lease', POLICY_LIMITS.maxLeaseSeconds) }),
      ...(v['idle-lock'] === undefined
        ? {}
        : { idleLockSeconds: parseDuration(v['idle-lock'], 'idle-lock', POLICY_LIMITS.idleLockSeconds) }),
    };
    if (Object.keys(change).length === 0)
      throw new UsageError(`name at least one of --separate-organisations, --max-lease, --idle-lock\n${USAGE.policy}`);
    const passphrase = await passphraseOf(io, v['passphrase-file'], as);
    return withApi(io, 'policy set', dir, async (api) => {
      await unlockAs(api, as, passphrase);
      return proposed(io, (await api.call('policy:change', { by: as, ...change })).proposal);
    });
  }
  throw new UsageError(`expected 'policy show' or 'policy set', got '${action}'\n${USAGE.policy}`);
}

/** `halfkey custodian role|organisation …` (called by `halfkey custodian`, which owns add, revoke and list). */
export async function custodianChange(action: 'role' | 'organisation', argv: string[], io: CliIo): Promise<number> {
  const v = parse(
    argv,
    {
      as: { type: 'string' },
      custodian: { type: 'string' },
      role: { type: 'string' },
      organisation: { type: 'string' },
      'admin-passphrase-file': { type: 'string' },
    },
    'custodian',
  );
  if (v.help) return (io.stdout(USAGE.custodian), 0);
  const dir = resolve(io.cwd, required(v.vault, 'vault', 'custodian'));
  const as = required(v.as, 'as', 'custodian');
  const custodianId = required(v.custodian, 'custodian', 'custodian');
  const target = required(action === 'role' ? v.role : v.organisation, action, 'custodian');
  if (action === 'role' && !(ROLES as readonly string[]).includes(target))
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}, not '${target}'`);
  const passphrase = await passphraseOf(io, v['admin-passphrase-file'], as);
  return withApi(io, `custodian ${action}`, dir, async (api) => {
    await unlockAs(api, as, passphrase);
    const words = { custodianId: '--custodian', role: '--role', organisation: '--organisation' };
    const { proposal } =
      action === 'role'
        ? await api.call('custodian:role-change', { by: as, custodianId, role: target as (typeof ROLES)[number] }, words)
        : await api.call('custodian:organisation-change', { by: as, custodianId, organisation: target }, words);
    return proposed(io, proposal);
  });
}

/** The runner of `halfkey organisation …` or `halfkey policy …`. */
export function command(name: 'organisation' | 'policy'): { run: CommandRunner } {
  return { run: (argv, io) => (name === 'organisation' ? organisation(argv, io) : policy(argv, io)) };
}

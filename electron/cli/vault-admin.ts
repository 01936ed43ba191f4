import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { custodianRoleSchema } from '../../shared/api/channels/vault';
import { unlockAs, withApi } from './api';
import { UsageError, type CliIo, type CommandRunner } from './cli-io';
import { newPassphrase, promptHidden, readSecretFile } from './secret-input';
import { terminalQr } from './terminal-qr';

type Command = 'init' | 'custodian' | 'recover' | 'vault';

const CUSTODIAN_ROLES = custodianRoleSchema.options;
const RECOVER_USAGE =
  'usage: halfkey vault recover --vault DIR --custodian ID --custodian ID [--recovery-key-file FILE] [--passphrase-file FILE --passphrase-file FILE]\n' +
  '       (also: halfkey recover …)\n' +
  "Restores access where this machine's keychain lost the vault's device key. Using the recovery key takes two\n" +
  'custodians present (not reviewers), each typing their own passphrase; the first --passphrase-file is the first\n' +
  "--custodian's. Without --custodian, the custodians who may take part are listed in the refusal.\n";
const USAGE: Readonly<Record<Command, string>> = {
  init: 'usage: halfkey init --vault DIR --admin-name NAME --organisation ORG [--passphrase-file FILE] [--separate-organisations]\n',
  custodian:
    'usage: halfkey custodian add --vault DIR --as ADMIN_ID --name NAME --organisation ORG --role ROLE [--passphrase-file FILE] [--admin-passphrase-file FILE]\n' +
    "       (the vault's second, founding custodian is enrolled at once and types their passphrase; every later\n" +
    '        enrolment is a proposal: a second custodian approves it with halfkey proposal approve, where the\n' +
    '        newcomer types their own passphrase)\n' +
    '       halfkey custodian revoke --vault DIR --as ADMIN_ID --custodian ID --reason TEXT [--admin-passphrase-file FILE]  (a proposal)\n' +
    '       halfkey custodian list --vault DIR [--json]\n' +
    '       halfkey custodian role --vault DIR --as ADMIN_ID --custodian ID --role ROLE [--admin-passphrase-file FILE]  (a proposal)\n' +
    '       halfkey custodian organisation --vault DIR --as ADMIN_ID --custodian ID --organisation ORG [--admin-passphrase-file FILE]  (a proposal)\n' +
    '       halfkey custodian passphrase --vault DIR --custodian ID [--old-passphrase-file FILE] [--new-passphrase-file FILE]\n' +
    '       (a custodian changes their own passphrase: the old one is required, the new one is asked twice)\n' +
    `roles: ${CUSTODIAN_ROLES.join(', ')}\n`,
  recover: RECOVER_USAGE,
  vault: RECOVER_USAGE,
};

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, command: Command) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false })
      .values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE[command]}`);
  }
}

function required(value: string | boolean | undefined, flag: string, command: Command): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${flag} is required\n${USAGE[command]}`);
  return value;
}

/** The vault folder named by --vault, relative to where the command runs. */
const vaultDir = (io: CliIo, value: string | boolean | undefined, command: Command): string =>
  resolve(io.cwd, required(value, 'vault', command));

async function init(argv: string[], io: CliIo): Promise<number> {
  const v = parse(
    argv,
    {
      vault: { type: 'string' },
      'admin-name': { type: 'string' },
      organisation: { type: 'string' },
      'passphrase-file': { type: 'string' },
      'separate-organisations': { type: 'boolean' },
    },
    'init',
  );
  if (v.help) return help(io, 'init');
  const dir = required(v.vault, 'vault', 'init');
  const name = required(v['admin-name'], 'admin-name', 'init');
  const organisation = required(v.organisation, 'organisation', 'init');
  const passphrase = await newPassphrase(io, v['passphrase-file'] as string | undefined, name);
  const words = { adminName: '--admin-name', organisation: '--organisation', passphrase: 'the passphrase' };
  return withApi(io, 'init', resolve(io.cwd, dir), async (api) => {
    const created = await api.call(
      'vault:create',
      { adminName: name, organisation, passphrase, separateOrganisations: v['separate-organisations'] === true },
      words,
    );
    io.stdout(
      `Vault ${created.vaultId} created in ${dir}\n` +
        `Device key stored in: ${created.keychainBackend}\n` +
        `Admin ${name} (${organisation}): custodian id ${created.adminId}\n\n` +
        'RECOVERY KEY - shown this once. Write it down or print it and store it offline (a safe, not this machine).\n' +
        "It is the only way back in if this machine's keychain loses the device key.\n\n" +
        `  ${created.recoveryKey}\n\n${await terminalQr(created.recoveryKey)}\n`,
    );
    return 0;
  });
}

async function custodian(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') return help(io, 'custodian');
  if (action === 'list') {
    const v = parse(rest, { vault: { type: 'string' }, json: { type: 'boolean' } }, 'custodian');
    if (v.help) return help(io, 'custodian');
    return withApi(io, 'custodian list', vaultDir(io, v.vault, 'custodian'), async (api) => {
      await api.call('vault:open', {});
      const { custodians } = await api.call('custodian:list', {});
      if (v.json) io.stdout(`${JSON.stringify(custodians, null, 2)}\n`);
      else
        for (const c of custodians)
          io.stdout(`${c.id}  ${c.role.padEnd(18)}  ${c.name} (${c.organisation})${c.revoked ? '  [revoked]' : ''}\n`);
      return 0;
    });
  }
  if (action === 'revoke') return revoke(rest, io);
  if (action === 'role' || action === 'organisation') return (await import('./organisation')).custodianChange(action, rest, io);
  if (action === 'passphrase') return changePassphrase(rest, io);
  if (action !== 'add')
    throw new UsageError(
      `expected 'custodian add', 'custodian revoke', 'custodian list', 'custodian role', 'custodian organisation' or 'custodian passphrase', got '${action ?? ''}'\n${USAGE.custodian}`,
    );
  const v = parse(
    rest,
    {
      vault: { type: 'string' },
      as: { type: 'string' },
      name: { type: 'string' },
      organisation: { type: 'string' },
      role: { type: 'string' },
      'passphrase-file': { type: 'string' },
      'admin-passphrase-file': { type: 'string' },
    },
    'custodian',
  );
  if (v.help) return help(io, 'custodian');
  const dir = vaultDir(io, v.vault, 'custodian');
  const as = required(v.as, 'as', 'custodian');
  const name = required(v.name, 'name', 'custodian');
  const organisation = required(v.organisation, 'organisation', 'custodian');
  const role = required(v.role, 'role', 'custodian');
  if (!(CUSTODIAN_ROLES as readonly string[]).includes(role))
    throw new UsageError(`--role must be one of ${CUSTODIAN_ROLES.join(', ')}, not '${role}'`);
  const adminFile = v['admin-passphrase-file'] as string | undefined;
  // Every argument and secret is gathered before the vault opens, so a typo costs no Argon2id run.
  const adminPassphrase =
    adminFile === undefined ? await promptHidden(`Passphrase of admin ${as}: `) : readSecretFile(io, adminFile, 'admin passphrase');
  return withApi(io, 'custodian add', dir, async (api) => {
    await unlockAs(api, as, adminPassphrase);
    const words = { name: '--name', organisation: '--organisation', role: '--role', passphrase: 'the new passphrase' };
    const role_ = role as (typeof CUSTODIAN_ROLES)[number];
    // Only the founding second custodian is enrolled at once (and types their own passphrase here).
    const founding = (await api.call('custodian:list', {})).custodians.length < 2;
    // A passphrase typed by the proposer would make the newcomer a puppet: refused, not ignored.
    if (!founding && v['passphrase-file'] !== undefined)
      throw new UsageError(
        `--passphrase-file is only for the vault's second, founding custodian: ${name} types their own passphrase when a second custodian approves the enrolment (halfkey proposal approve); nothing was proposed`,
      );
    const passphrase = founding ? await newPassphrase(io, v['passphrase-file'] as string | undefined, name) : undefined;
    const { custodian: record, proposal } = await api.call(
      'custodian:enrol',
      { by: as, name, organisation, role: role_, ...(passphrase === undefined ? {} : { passphrase }) },
      words,
    );
    if (record !== null)
      io.stdout(`Enrolled ${record.name} (${record.organisation}) as ${record.role}, a founding custodian: custodian id ${record.id}\n`);
    else if (proposal !== null)
      io.stdout(
        proposed(
          proposal,
          'halfkey proposal approve --vault DIR --as APPROVER_ID --proposal ' +
            proposal.id +
            ' (the newcomer types their own passphrase there)',
        ),
      );
    return 0;
  });
}

/** What a proposal waits for, in one paragraph. */
function proposed(proposal: { readonly id: string; readonly summary: string; readonly expiresAt: number }, how: string): string {
  return `Proposed: ${proposal.summary}.\nProposal ${proposal.id} takes effect when a second custodian approves it before ${new Date(proposal.expiresAt).toISOString()}:\n  ${how}\n`;
}

async function revoke(argv: string[], io: CliIo): Promise<number> {
  const v = parse(
    argv,
    {
      vault: { type: 'string' },
      as: { type: 'string' },
      custodian: { type: 'string' },
      reason: { type: 'string' },
      'admin-passphrase-file': { type: 'string' },
    },
    'custodian',
  );
  if (v.help) return help(io, 'custodian');
  const dir = vaultDir(io, v.vault, 'custodian');
  const as = required(v.as, 'as', 'custodian');
  const id = required(v.custodian, 'custodian', 'custodian');
  const reason = required(v.reason, 'reason', 'custodian');
  const adminFile = v['admin-passphrase-file'] as string | undefined;
  const adminPassphrase =
    adminFile === undefined ? await promptHidden(`Passphrase of admin ${as}: `) : readSecretFile(io, adminFile, 'admin passphrase');
  return withApi(io, 'custodian revoke', dir, async (api) => {
    await unlockAs(api, as, adminPassphrase);
    const { proposal } = await api.call('custodian:revoke', { by: as, custodianId: id, reason }, { custodianId: '--custodian' });
    io.stdout(proposed(proposal, `halfkey proposal approve --vault DIR --as APPROVER_ID --proposal ${proposal.id}`));
    return 0;
  });
}

/** `halfkey custodian passphrase`: a custodian changes their own passphrase (the old one is required). */
async function changePassphrase(argv: string[], io: CliIo): Promise<number> {
  const v = parse(
    argv,
    {
      vault: { type: 'string' },
      custodian: { type: 'string' },
      'old-passphrase-file': { type: 'string' },
      'new-passphrase-file': { type: 'string' },
    },
    'custodian',
  );
  if (v.help) return help(io, 'custodian');
  const dir = vaultDir(io, v.vault, 'custodian');
  const id = required(v.custodian, 'custodian', 'custodian');
  const oldFile = v['old-passphrase-file'] as string | undefined;
  // Both are gathered before the vault opens, so a typo costs no Argon2id run.
  const oldPassphrase =
    oldFile === undefined ? await promptHidden(`Current passphrase of ${id}: `) : readSecretFile(io, oldFile, 'old passphrase');
  const newPass = await newPassphrase(io, v['new-passphrase-file'] as string | undefined, id);
  return withApi(io, 'custodian passphrase', dir, async (api) => {
    await api.call('vault:open', {});
    await api.call(
      'custodian:change-passphrase',
      { custodianId: id, oldPassphrase, newPassphrase: newPass },
      { custodianId: '--custodian', oldPassphrase: 'the current passphrase', newPassphrase: 'the new passphrase' },
    );
    io.stdout(`The passphrase of custodian ${id} is changed; the old one no longer unlocks. The change is journaled.\n`);
    return 0;
  });
}

/** `halfkey vault recover` (and `halfkey recover`): the recovery key and two custodians present. */
async function recover(argv: string[], io: CliIo, command: Command): Promise<number> {
  const v = parse(
    argv,
    {
      vault: { type: 'string' },
      'recovery-key-file': { type: 'string' },
      custodian: { type: 'string', multiple: true },
      'passphrase-file': { type: 'string', multiple: true },
    },
    command,
  );
  if (v.help) return help(io, command);
  const dir = vaultDir(io, v.vault, command);
  const ids = (v.custodian ?? []) as string[];
  const files = (v['passphrase-file'] ?? []) as string[];
  if (ids.length > 2) throw new UsageError(`--custodian is given twice at most (two custodians take part)\n${USAGE[command]}`);
  if (files.length > ids.length) throw new UsageError(`each --passphrase-file belongs to a --custodian given before it\n${USAGE[command]}`);
  const file = v['recovery-key-file'] as string | undefined;
  const key = file === undefined ? await promptHidden('Recovery key: ') : readSecretFile(io, file, 'recovery key');
  const words = { recoveryKey: 'the recovery key', custodians: '--custodian' };
  return withApi(io, 'vault recover', dir, async (api) => {
    const { custodians: roster } = await api.call('vault:recovery-roster', {});
    const present: { custodianId: string; passphrase: string }[] = [];
    for (const [i, id] of ids.entries()) {
      const who = roster.find((c) => c.id === id);
      const name = who === undefined ? `custodian ${id}` : `${who.name} (${who.role})`;
      present.push({
        custodianId: id,
        passphrase:
          files[i] !== undefined ? readSecretFile(io, files[i], `passphrase of ${name}`) : await promptHidden(`Passphrase of ${name}: `),
      });
    }
    const vault = await api.call('vault:recover', { recoveryKey: key, custodians: present }, words);
    io.stdout(
      `Vault ${vault.vaultId} recovered: its device key is now in ${vault.keychainBackend}, journaled with the signatures of both custodians. The recovery key stays valid; keep it offline.\n`,
    );
    return 0;
  });
}

function help(io: CliIo, command: Command): number {
  io.stdout(USAGE[command]);
  return 0;
}

/** `halfkey vault recover …` */
async function vault(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') return help(io, 'vault');
  if (action !== 'recover') throw new UsageError(`expected 'vault recover', got '${action ?? ''}'\n${USAGE.vault}`);
  return recover(rest, io, 'vault');
}

/** The runner of one vault-admin command (`init`, `custodian`, `recover`, `vault`). */
export function command(name: Command): { run: CommandRunner } {
  const runners: Readonly<Record<Command, CommandRunner>> = { init, custodian, recover: (argv, io) => recover(argv, io, 'recover'), vault };
  return { run: (argv, io) => runners[name](argv, io) };
}

import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { unlockAs, withApi, type CliApi } from './api';
import { UsageError, type CliIo, type CommandRunner } from './cli-io';
import { promptHidden, readSecretFile } from './secret-input';

const USAGE = `usage (every command also takes --vault DIR --as CUSTODIAN [--passphrase-file FILE]):
  halfkey account add --id 123456789012 --alias NAME --email ROOT@EXAMPLE.COM --organisation ORG
                      [--phone +441632960000] [--notes TEXT] [--exclusive] [--rotate-after-checkout]
  halfkey half set --account ID --item password|mfa (--secret-file FILE | --token-serial S --token-location L)
                   (without --secret-file the secret is prompted for; for mfa: an otpauth:// URI or base32)
  halfkey assign --account ID --item password|mfa|email|phone --custodian ID
                 (proposes it; a second custodian applies it with 'halfkey proposal approve')
  halfkey checkout --account ID --item password|mfa --reason TEXT [--ticket REF] [--lease 15m]
  halfkey checkin --checkout ID
  halfkey rotate --account ID --item password|mfa [--length N] [--seed-file FILE]
                 (the new generation is pending: the current one stays in use until the rotation is confirmed)
  halfkey rotate --account ID --item password|mfa --confirm   (proposes the confirmation; a second custodian approves)
  halfkey rotate --account ID --item password|mfa --abandon   (the provider did not take it; the current one stays)

Passphrases and secrets are read from a file or a prompt, never from the command line.
Exit codes: 0 done, 1 failed, 2 bad arguments, 3 refused by the custody policy.
`;

/** Reads a secret from the terminal without echo. */
export type Prompt = (question: string) => Promise<string>;

type Sub = 'account' | 'half' | 'assign' | 'checkout' | 'checkin' | 'rotate';

/** The runner of one top-level custody command (`halfkey checkout …`), for commands.ts. */
export function command(name: Sub, prompt: Prompt = promptHidden): { run: CommandRunner } {
  return { run: (argv, io) => runCustody(name, argv, io, prompt) };
}

const common = {
  vault: { type: 'string' },
  as: { type: 'string' },
  'passphrase-file': { type: 'string' },
  help: { type: 'boolean' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    const parsed = parseArgs({ args, options: { ...common, ...options }, strict: true, allowPositionals: false });
    return parsed.values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required\n${USAGE}`);
  return value;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T {
  const v = need(value, flag);
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

/** `15m`, `2h`, `90s` or a number of seconds. */
export function parseLease(text: string): number {
  const match = /^(\d+)([smh]?)$/.exec(text);
  if (!match) throw new UsageError(`--lease must look like 90s, 15m or 2h, got '${text}'`);
  const seconds = Number(match[1]) * (match[2] === 'h' ? 3600 : match[2] === 'm' ? 60 : 1);
  if (seconds < 1 || seconds > 7 * 24 * 3600) throw new UsageError('--lease must be between 1 second and 7 days');
  return seconds;
}

async function runCustody(name: Sub, argv: string[], io: CliIo, prompt: Prompt): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    io.stdout(USAGE);
    return 0;
  }
  if (name === 'account' || name === 'half') {
    const expected = name === 'account' ? 'add' : 'set';
    if (argv[0] !== expected) throw new UsageError(`expected 'halfkey ${name} ${expected}', got '${argv[0] ?? ''}'\n${USAGE}`);
    argv = argv.slice(1);
  }
  // Parse and check every argument before asking for a passphrase or opening the vault.
  const action = prepare(name, argv, io);
  const vaultDir = resolve(io.cwd, need(action.values.vault ?? io.env.HALFKEY_VAULT, 'vault'));
  const as = need(action.values.as, 'as');
  const passphraseFile = action.values['passphrase-file'];
  const passphrase =
    passphraseFile === undefined ? await prompt(`Passphrase for custodian ${as}: `) : readSecretFile(io, passphraseFile, 'passphrase');
  const secret = action.needsSecret === null ? null : (action.secretFile ?? (await prompt(action.needsSecret)));
  if (secret !== null) action.checkSecret?.(secret);
  await withApi(io, name === 'account' ? 'account add' : name === 'half' ? 'half set' : name, vaultDir, async (api) => {
    await unlockAs(api, as, passphrase);
    await action.perform(api, as, secret);
  });
  return 0;
}

interface Prepared {
  readonly values: { vault?: string | undefined; as?: string | undefined; 'passphrase-file'?: string | undefined };
  /** The prompt for a secret to read interactively, or null when none is needed. */
  readonly needsSecret: string | null;
  readonly secretFile: string | null;
  /** Refuses an unusable secret before the vault opens (and an Argon2id run is spent on the passphrase). */
  checkSecret?(secret: string): void;
  /** Sends the command's requests as custodian `as` (unlocked already). */
  perform(api: CliApi, as: string, secret: string | null): Promise<void>;
}

function prepare(name: Sub, argv: string[], io: CliIo): Prepared {
  const out = (text: string) => io.stdout(`${text}\n`);
  switch (name) {
    case 'account': {
      const v = parse(argv, {
        id: { type: 'string' },
        alias: { type: 'string' },
        email: { type: 'string' },
        organisation: { type: 'string' },
        phone: { type: 'string' },
        notes: { type: 'string' },
        exclusive: { type: 'boolean' },
        'rotate-after-checkout': { type: 'boolean' },
      });
      const input = {
        accountId: need(v.id, 'id'),
        alias: need(v.alias, 'alias'),
        rootEmail: need(v.email, 'email'),
        organisation: need(v.organisation, 'organisation'),
        phone: v.phone ?? null,
        notes: v.notes ?? '',
        exclusiveCheckout: v.exclusive ?? false,
        rotateAfterCheckout: v['rotate-after-checkout'] ?? false,
      };
      return {
        values: v,
        needsSecret: null,
        secretFile: null,
        perform: async (api, as) => {
          const account = await api.call(
            'custody:account-add',
            { by: as, ...input },
            {
              accountId: '--id',
              rootEmail: '--email',
              alias: '--alias',
              organisation: '--organisation',
              phone: '--phone',
              notes: '--notes',
            },
          );
          out(`added account ${account.accountId} (${account.alias})`);
        },
      };
    }
    case 'half': {
      const v = parse(argv, {
        account: { type: 'string' },
        item: { type: 'string' },
        'secret-file': { type: 'string' },
        'token-serial': { type: 'string' },
        'token-location': { type: 'string' },
      });
      const accountId = need(v.account, 'account');
      const item = oneOf(v.item, 'item', ['password', 'mfa'] as const);
      const token = v['token-serial'] !== undefined || v['token-location'] !== undefined;
      if (token && item !== 'mfa') throw new UsageError('a hardware token can only be the mfa half');
      if (token && v['secret-file'] !== undefined) throw new UsageError('give either --secret-file or the token options, not both');
      const hardware = token
        ? {
            kind: 'hardware-token' as const,
            serial: need(v['token-serial'], 'token-serial'),
            location: need(v['token-location'], 'token-location'),
          }
        : null;
      const secretFile = v['secret-file'] === undefined ? null : readSecretFile(io, v['secret-file'], 'secret');
      return {
        values: v,
        needsSecret: token ? null : item === 'password' ? 'New password: ' : 'otpauth:// URI or base32 seed: ',
        secretFile,
        checkSecret: (secret) => {
          if (item === 'password' && (secret.length < 8 || secret.length > 128))
            throw new UsageError('the new password must be 8 to 128 characters long');
        },
        perform: async (api, as, secret) => {
          const value = hardware
            ? hardware
            : item === 'password'
              ? { kind: 'password' as const, password: secret ?? '' }
              : { kind: 'totp' as const, seed: secret ?? '' };
          const words = {
            'secret.serial': '--token-serial',
            'secret.location': '--token-location',
            secret: item === 'password' ? 'the new password' : 'the seed',
          };
          const change = await api.call('custody:half-set', { by: as, accountId, item, secret: value }, words);
          out(`set the ${item} half of ${accountId}: generation ${change.generation}`);
        },
      };
    }
    case 'assign': {
      const v = parse(argv, { account: { type: 'string' }, item: { type: 'string' }, custodian: { type: 'string' } });
      const request = {
        accountId: need(v.account, 'account'),
        item: oneOf(v.item, 'item', ['password', 'mfa', 'email', 'phone'] as const),
        custodianId: need(v.custodian, 'custodian'),
      };
      return {
        values: v,
        needsSecret: null,
        secretFile: null,
        perform: async (api, as) => {
          // An assignment is a proposal: it takes effect when a second custodian approves it.
          const { proposal } = await api.call('custody:assign', { by: as, ...request }, { custodianId: '--custodian' });
          printProposal(proposal, `not ${request.custodianId}`, out);
        },
      };
    }
    case 'checkout': {
      const v = parse(argv, {
        account: { type: 'string' },
        item: { type: 'string' },
        reason: { type: 'string' },
        ticket: { type: 'string' },
        lease: { type: 'string' },
      });
      const request = {
        accountId: need(v.account, 'account'),
        item: oneOf(v.item, 'item', ['password', 'mfa'] as const),
        reason: need(v.reason, 'reason'),
        ticket: v.ticket,
        leaseSeconds: parseLease(v.lease ?? '15m'),
      };
      return {
        values: v,
        needsSecret: null,
        secretFile: null,
        perform: async (api, as) => {
          const opened = await api.call('custody:checkout', { by: as, ...request }, { leaseSeconds: '--lease', ticket: '--ticket' });
          out(`checkout ${opened.checkoutId} open until ${new Date(opened.leaseUntil).toISOString()}`);
          if (request.item === 'password') {
            const shown = await api.call('custody:reveal', { by: as, checkoutId: opened.checkoutId, seconds: 30 });
            out(shown.password);
          } else {
            const shown = await api.call('custody:totp-code', { by: as, checkoutId: opened.checkoutId });
            out(`${shown.code} (valid for ${Math.ceil(shown.remainingMs / 1000)} s)`);
          }
        },
      };
    }
    case 'checkin': {
      const v = parse(argv, { checkout: { type: 'string' } });
      const checkoutId = need(v.checkout, 'checkout');
      return {
        values: v,
        needsSecret: null,
        secretFile: null,
        perform: async (api, as) => {
          const closed = await api.call('custody:checkin', { by: as, checkoutId });
          out(`checked in ${closed.checkoutId}${closed.rotationDue ? '; the password is now due for rotation' : ''}`);
        },
      };
    }
    case 'rotate': {
      const v = parse(argv, {
        account: { type: 'string' },
        item: { type: 'string' },
        length: { type: 'string' },
        'seed-file': { type: 'string' },
        confirm: { type: 'boolean' },
        abandon: { type: 'boolean' },
      });
      const accountId = need(v.account, 'account');
      const item = oneOf(v.item, 'item', ['password', 'mfa'] as const);
      if (v.confirm === true || v.abandon === true) {
        if (v.confirm === true && v.abandon === true) throw new UsageError('give --confirm or --abandon, not both');
        if (v.length !== undefined || v['seed-file'] !== undefined)
          throw new UsageError('--length and --seed-file are for rotating, not for --confirm or --abandon');
        return v.confirm === true ? confirmRotation(v, accountId, item, out) : abandonRotation(v, accountId, item, out);
      }
      const length = v.length === undefined ? undefined : Number(v.length);
      if (length !== undefined && (!Number.isInteger(length) || length < 8 || length > 128))
        throw new UsageError('--length must be a whole number from 8 to 128');
      if (item === 'password' && v['seed-file'] !== undefined) throw new UsageError('--seed-file is for an mfa rotation');
      const seedFile = v['seed-file'] === undefined ? null : readSecretFile(io, v['seed-file'], 'seed');
      return {
        values: v,
        needsSecret: item === 'mfa' ? 'New otpauth:// URI or base32 seed: ' : null,
        secretFile: seedFile,
        perform: async (api, as, secret) => {
          const request = {
            by: as,
            accountId,
            item,
            seconds: 30,
            ...(length === undefined ? {} : { password: { length } }),
            ...(secret === null ? {} : { seed: secret }),
          };
          const change = await api.call('custody:rotate', request, { password: '--length', seed: 'the new seed' });
          out(
            `rotation of the ${item} half of ${accountId} pending: generation ${change.generation} (generation ${change.retiredGeneration} stays in use until it is confirmed with 'halfkey rotate --confirm')`,
          );
          if (change.password !== null) out(change.password);
        },
      };
    }
  }
}

type Values = Prepared['values'];

/** `halfkey rotate --confirm`: the custodian of the half proposes confirming its pending rotation. */
function confirmRotation(values: Values, accountId: string, item: 'password' | 'mfa', out: (text: string) => void): Prepared {
  return {
    values,
    needsSecret: null,
    secretFile: null,
    perform: async (api, as) => {
      const { proposal } = await api.call('custody:rotation-confirm', { by: as, accountId, item });
      printProposal(proposal, `not ${as}`, out);
    },
  };
}

/** `halfkey rotate --abandon`: drops a pending rotation the provider did not take. */
function abandonRotation(values: Values, accountId: string, item: 'password' | 'mfa', out: (text: string) => void): Prepared {
  return {
    values,
    needsSecret: null,
    secretFile: null,
    perform: async (api, as) => {
      const dropped = await api.call('custody:rotation-abandon', { by: as, accountId, item });
      out(
        `abandoned the rotation of the ${item} half of ${accountId} to generation ${dropped.generation}; the current generation stays in use`,
      );
    },
  };
}

/** What a proposing command prints: the change, until when it waits, and how a second custodian approves it. */
function printProposal(
  proposal: { readonly id: string; readonly summary: string; readonly expiresAt: number },
  who: string,
  out: (text: string) => void,
): void {
  out(`proposed: ${proposal.summary}`);
  out(`proposal ${proposal.id}, open until ${new Date(proposal.expiresAt).toISOString()}`);
  out(`a second custodian (${who}) approves it with: halfkey proposal approve --vault DIR --as THEIR_ID --proposal ${proposal.id}`);
}

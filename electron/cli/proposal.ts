import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { unlockAs, withApi } from './api';
import { UsageError, type CliIo } from './cli-io';
import { newPassphrase, promptHidden, readSecretFile } from './secret-input';

const USAGE = `usage: halfkey proposal list --vault DIR [--all] [--json]
       halfkey proposal approve --vault DIR --as CUSTODIAN_ID --proposal ID [--passphrase-file FILE] [--newcomer-passphrase-file FILE]
       halfkey proposal withdraw --vault DIR --as CUSTODIAN_ID --proposal ID --reason TEXT [--passphrase-file FILE]

A change of who holds what (enrol, revoke, assign, …) is a proposal until a second, eligible
custodian approves it with their own passphrase. Approving an enrolment also asks the newcomer
to type their own passphrase. Passphrases are read from a file or a hidden prompt, never argv.
`;

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, vault: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
}

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`--${flag} is required\n${USAGE}`);
  return value;
}

const passphraseOf = async (io: CliIo, file: string | boolean | undefined, who: string): Promise<string> =>
  typeof file === 'string' ? readSecretFile(io, file, `passphrase of ${who}`) : promptHidden(`Passphrase of ${who}: `);

/** `halfkey proposal list|approve|withdraw …` */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '--help' || action === '-h') {
    (action === undefined ? io.stderr : io.stdout)(USAGE);
    return action === undefined ? 2 : 0;
  }
  if (action === 'list') {
    const v = parse(rest, { all: { type: 'boolean' }, json: { type: 'boolean' } });
    if (v.help) return (io.stdout(USAGE), 0);
    return withApi(io, 'proposal list', resolve(io.cwd, required(v.vault, 'vault')), async (api) => {
      await api.call('vault:open', {});
      const { proposals } = await api.call('proposal:list', v.all === true ? {} : { state: 'open' });
      if (v.json) io.stdout(`${JSON.stringify(proposals, null, 2)}\n`);
      else if (proposals.length === 0) io.stdout('No open proposals.\n');
      else
        for (const p of proposals)
          io.stdout(
            `${p.id}  ${p.state.padEnd(9)}  ${p.summary}  (proposed by ${p.proposer}, until ${new Date(p.expiresAt).toISOString()})\n`,
          );
      return 0;
    });
  }
  if (action === 'approve') {
    const v = parse(rest, {
      as: { type: 'string' },
      proposal: { type: 'string' },
      'passphrase-file': { type: 'string' },
      'newcomer-passphrase-file': { type: 'string' },
    });
    if (v.help) return (io.stdout(USAGE), 0);
    const dir = resolve(io.cwd, required(v.vault, 'vault'));
    const as = required(v.as, 'as');
    const proposalId = required(v.proposal, 'proposal');
    const passphrase = await passphraseOf(io, v['passphrase-file'], as);
    return withApi(io, 'proposal approve', dir, async (api) => {
      await api.call('vault:open', {});
      const { proposals } = await api.call('proposal:list', {});
      const target = proposals.find((p) => p.id === proposalId);
      // The newcomer types their own passphrase here, after the approver's, for an enrolment only.
      const newcomerPassphrase =
        target?.type === 'custodian.enrolled'
          ? await newPassphrase(io, v['newcomer-passphrase-file'] as string | undefined, String(target.change.name))
          : undefined;
      const words = { proposalId: '--proposal', by: '--as', passphrase: 'the passphrase', newcomerPassphrase: "the newcomer's passphrase" };
      const { proposal, seq } = await api.call(
        'proposal:approve',
        { by: as, proposalId, passphrase, ...(newcomerPassphrase === undefined ? {} : { newcomerPassphrase }) },
        words,
      );
      io.stdout(`Approved and applied: ${proposal.summary} (journal entry ${seq}, signed by the proposer and by ${as}).\n`);
      return 0;
    });
  }
  if (action === 'withdraw') {
    const v = parse(rest, {
      as: { type: 'string' },
      proposal: { type: 'string' },
      reason: { type: 'string' },
      'passphrase-file': { type: 'string' },
    });
    if (v.help) return (io.stdout(USAGE), 0);
    const dir = resolve(io.cwd, required(v.vault, 'vault'));
    const as = required(v.as, 'as');
    const proposalId = required(v.proposal, 'proposal');
    const reason = required(v.reason, 'reason');
    const passphrase = await passphraseOf(io, v['passphrase-file'], as);
    return withApi(io, 'proposal withdraw', dir, async (api) => {
      await unlockAs(api, as, passphrase);
      const { proposal } = await api.call('proposal:withdraw', { by: as, proposalId, reason }, { proposalId: '--proposal' });
      io.stdout(`Withdrawn: ${proposal.summary}.\n`);
      return 0;
    });
  }
  throw new UsageError(`expected 'proposal list', 'proposal approve' or 'proposal withdraw', got '${action}'\n${USAGE}`);
}

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HalfkeyError, type ApiError } from '../../shared/api/result';
import { ApiFailure, describeFailure } from './api';

/**
 * The `halfkey` command line: the third adapter over the app's API router (electron/cli/api.ts),
 * for headless and scripted use. Exit codes: 0 done, 1 failed (e.g. verification failed), 2 bad
 * arguments or a vault open in another Halfkey process, 3 policy refusal.
 */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export type CommandRunner = (argv: string[], io: CliIo) => Promise<number>;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Options only (no positionals), strictly: anything unknown or malformed is a UsageError ending with the usage text. */
export function parseOptions<const O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : 'bad arguments'}\n${usage}`);
  }
}

/** Exit code for the router's `{ ok: false, error }`: 3 refused by rule, 2 bad input or a vault in use, 1 anything else. */
export function exitCodeFor(error: ApiError): number {
  // The single-writer lock (electron/vault/vault-lock.ts): nothing failed, the vault is busy.
  if (error.detail?.reason === 'VAULT_IN_USE') return 2;
  switch (error.code) {
    case 'POLICY_REFUSED':
    case 'NOT_PERMITTED':
      return 3;
    case 'INVALID_PAYLOAD':
      return 2;
    default:
      return 1;
  }
}

/** Each top-level word maps to a module exporting `run(argv, io)`; loaded on demand so `verify` stays fast. */
const commands: Record<string, { summary: string; load: () => Promise<{ run: CommandRunner }> }> = {};

/** Adds a command; modules call this from commands.ts so the table has one home. */
export function registerCommand(name: string, summary: string, load: () => Promise<{ run: CommandRunner }>): void {
  commands[name] = { summary, load };
}

function usage(): string {
  const rows = Object.entries(commands)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: halfkey <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun 'halfkey <command> --help' for a command's options.\n`;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  await import('./commands');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    io.stderr(`halfkey: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    const mod = await command.load();
    // Every `halfkey <command> … --help` prints the command's usage and exits 0, whatever else is on the line.
    return await mod.run(asksForHelp(rest) ? ['--help'] : rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`halfkey ${name}: ${error.message}\n`);
      return 2;
    }
    // The router's refusal or failure, in the user's words, with its stable code for scripts.
    if (error instanceof ApiFailure) {
      io.stderr(`halfkey ${name}: ${describeFailure(error)} [${error.error.code}]\n`);
      return exitCodeFor(error.error);
    }
    // A deliberate error of the shared code a command ran itself: a person gets the message, not a stack trace.
    if (error instanceof HalfkeyError) {
      io.stderr(`halfkey ${name}: ${error.message} [${error.code}]\n`);
      return exitCodeFor(error);
    }
    throw error;
  }
}

/** `--help` or `-h` among the options (before a `--`). */
function asksForHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

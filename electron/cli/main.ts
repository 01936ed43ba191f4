import { HalfkeyError } from '../../shared/api/result';
import { ApiFailure, describeFailure } from './api';
import { exitCodeFor, UsageError, type CliIo } from './cli-io';
import { COMMANDS } from './commands';

export { exitCodeFor, parseOptions, UsageError, type CliIo, type CommandRunner } from './cli-io';

/**
 * The `halfkey` command line: the third adapter over the app's API router (electron/cli/api.ts),
 * for headless and scripted use. Exit codes: see cli-io.ts.
 */
function usage(): string {
  const rows = Object.entries(COMMANDS)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `usage: halfkey <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun 'halfkey <command> --help' for a command's options.\n`;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(usage());
    return name === undefined ? 2 : 0;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
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

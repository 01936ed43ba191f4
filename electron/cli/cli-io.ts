import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ApiError } from '../../shared/api/result';

/**
 * What every CLI command shares: its I/O, its usage errors and its exit codes. Commands import
 * this, never main.ts, so the command table (main.ts → commands.ts → each command) has no circle.
 * Exit codes: 0 done, 1 failed (e.g. verification failed), 2 bad arguments or a vault open in
 * another Halfkey process, 3 policy refusal.
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

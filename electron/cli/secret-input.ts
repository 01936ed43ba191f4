import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { UsageError, type CliIo } from './cli-io';

/** Reads a passphrase or key from a file (one trailing newline dropped); a missing file is a usage error. */
export function readSecretFile(io: CliIo, path: string, what: string): string {
  try {
    return readFileSync(resolve(io.cwd, path), 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`cannot read the ${what} file ${path} (${code})`);
  }
}

/** Asks on the terminal without echo; without a terminal it is a usage error, since secrets never come from argv. */
export function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    return Promise.reject(
      new UsageError(
        `stdin is not a terminal, so the ${question.replace(/:\s*$/, '').toLowerCase()} cannot be asked for: give it with the matching --…-file option`,
      ),
    );
  }
  process.stderr.write(question);
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  return new Promise((resolve) => {
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** A new passphrase: from the file if given, else asked twice so a typo cannot lock a custodian out. */
export async function newPassphrase(io: CliIo, file: string | undefined, who: string): Promise<string> {
  if (file !== undefined) return readSecretFile(io, file, 'passphrase');
  const first = await promptHidden(`New passphrase for ${who}: `);
  const second = await promptHidden('Repeat it: ');
  if (first !== second) throw new UsageError('the two passphrases differ; nothing was changed');
  return first;
}

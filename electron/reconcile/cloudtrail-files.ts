import type { Dir, Stats } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileProblem, type FileScan } from '../../shared/reconcile/log-scan';

/** How CloudTrail names its log files (…_CloudTrail_<region>_<time>_<id>.json.gz) and lookup-events output is usually saved. */
const LOG_FILE_NAME = /\.json(\.gz)?$/i;

/** A file to read, or one passed over with the reason (counted and listed, never silent). */
export type FoundFile = { readonly read: string } | { readonly passed: FileScan };

/**
 * The files under the paths given, streamed: a file named on the command line is always read,
 * whatever its name; a folder is walked depth first (`AWSLogs/<account>/CloudTrail/<region>/
 * <yyyy>/<mm>/<dd>/`), one directory handle open per level, so memory does not grow with the
 * number of files. In a folder, only .json and .json.gz files are read; symbolic links are not
 * followed (a link can loop, or lead out of the folder the reviewer chose).
 */
export async function* cloudTrailFiles(paths: readonly string[]): AsyncGenerator<FoundFile> {
  for (const path of paths) {
    let info: Stats;
    try {
      info = await stat(path);
    } catch (error) {
      // Checked before the run began; gone or unreadable since.
      yield { passed: fileProblem(path, 'bad', `could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`) };
      continue;
    }
    if (info.isDirectory()) yield* walk(path);
    else if (info.isFile()) yield { read: path };
    else yield { passed: fileProblem(path, 'ignored', 'not a regular file or folder') };
  }
}

async function* walk(folder: string): AsyncGenerator<FoundFile> {
  let dir: Dir;
  try {
    dir = await opendir(folder);
  } catch (error) {
    // Whatever it holds is unknown: a bad file, not an ignored one.
    yield { passed: fileProblem(folder, 'bad', `the folder could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`) };
    return;
  }
  for await (const entry of dir) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isSymbolicLink())
      yield { passed: fileProblem(path, 'ignored', 'a symbolic link: not followed in a folder (name its target to read it)') };
    else if (!entry.isFile()) yield { passed: fileProblem(path, 'ignored', 'not a regular file') };
    else if (LOG_FILE_NAME.test(entry.name)) yield { read: path };
    else yield { passed: fileProblem(path, 'ignored', 'not named .json or .json.gz (name the file itself to read it anyway)') };
  }
}

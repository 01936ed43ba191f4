// Loaded with `node --import`: appends the path of every native addon this process loads
// (process.dlopen, which require() of a .node goes through) to $HALFKEY_NATIVE_LOAD_LOG, one a line,
// so a test can tell which build of better-sqlite3 an entry point really loaded.
import { appendFileSync } from 'node:fs';
import process from 'node:process';

const log = process.env.HALFKEY_NATIVE_LOAD_LOG;
if (log) {
  const dlopen = process.dlopen;
  process.dlopen = function recordedDlopen(module, filename, ...rest) {
    appendFileSync(log, `${filename}\n`);
    return dlopen.call(this, module, filename, ...rest);
  };
}

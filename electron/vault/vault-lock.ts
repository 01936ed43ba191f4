import Database from 'better-sqlite3';
import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HalfkeyError } from '../../shared/api/result';
import { sqliteBinding } from '../base/native-binding';

/** The lock file's name inside a vault folder (beside vault.db). */
export const VAULT_LOCK_FILE = 'vault.lock';

/** The one writer's hold on a vault folder; release() lets the next process in. */
export interface VaultLock {
  readonly path: string;
  release(): void;
}

/** Another process (or another open in this one) holds the vault; CONFLICT with detail.reason VAULT_IN_USE. */
export class VaultInUseError extends HalfkeyError {
  constructor(dir: string, pid: number | null) {
    super(
      'CONFLICT',
      pid === process.pid
        ? `vault ${dir} is already open in this Halfkey process; close it first.`
        : `vault ${dir} is open in another Halfkey process${pid === null ? '' : ` (pid ${pid})`}; close the app or wait for that command to finish, then try again.`,
      { reason: 'VAULT_IN_USE', pid },
    );
  }
}

/** Folders this process holds, so a second open here fails without touching the lock file. */
const held = new Map<string, VaultLock>();

/**
 * Takes the single-writer lock of a vault folder, or throws VaultInUseError naming the holder.
 *
 * The lock is an SQLite file kept in exclusive locking mode after one write: the operating
 * system's own file lock (fcntl on POSIX, LockFileEx on Windows), which the kernel drops when the
 * holder exits or crashes. So there is no stale lock to clean up and no pid-reuse guess to make;
 * a crashed app's folder opens again at once. The holder's pid is stored as the file's
 * user_version, only to name it in the error. `nativeBinding`: as for openDatabase.
 */
export function acquireVaultLock(dir: string, options: { readonly nativeBinding?: string } = {}): VaultLock {
  // The real path: a second open through a symlink must hit the map, not the file (see holderPid).
  const path = join(realpathSync(resolve(dir)), VAULT_LOCK_FILE);
  if (held.has(path)) throw new VaultInUseError(dir, process.pid);
  const db = new Database(path, sqliteBinding(options.nativeBinding));
  try {
    // Fail at once rather than wait: the holder keeps the lock for as long as it runs.
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    // The write takes the EXCLUSIVE lock, and locking_mode keeps it until close() (or exit).
    db.pragma(`user_version = ${process.pid}`);
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new VaultInUseError(dir, holderPid(path));
    throw error;
  }
  const lock: VaultLock = {
    path,
    release() {
      if (held.get(path) !== lock) return;
      held.delete(path);
      db.close();
    },
  };
  held.set(path, lock);
  return lock;
}

/**
 * The pid the holder wrote (SQLite header bytes 60..63, big-endian user_version), or null.
 * Only ever called from a process that does not hold the lock: on POSIX, closing any descriptor
 * of a file drops this process's fcntl locks on it, so the holder must never open it this way.
 */
function holderPid(path: string): number | null {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const header = Buffer.alloc(64);
    if (readSync(fd, header, 0, 64, 0) < 64) return null;
    const pid = header.readUInt32BE(60);
    return pid > 0 ? pid : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

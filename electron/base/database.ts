import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqliteBinding } from './native-binding';

export type Db = Database.Database;

const statements = new WeakMap<Db, Map<string, Database.Statement<unknown[], unknown>>>();

/**
 * The prepared statement of `sql` on this connection: compiled on first use, then reused, since
 * preparing costs more than running the small statements the stores run on every call. The one
 * statement cache of the app's stores; the caller names the parameter and row types of its SQL.
 */
export function prepared<P extends unknown[] = unknown[], R = unknown>(db: Db, sql: string): Database.Statement<P, R> {
  let cache = statements.get(db);
  if (cache === undefined) {
    cache = new Map();
    statements.set(db, cache);
  }
  let statement = cache.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement as Database.Statement<P, R>;
}

/**
 * Opens a vault database with the durability the journal promises: WAL, synchronous=FULL
 * (a committed append survives power loss), foreign keys on, and a busy timeout so a second
 * connection waits instead of failing. It takes no lock of its own: one process writes a vault,
 * enforced where a vault is opened (vault/vault-lock.ts). `nativeBinding` is the Electron build of
 * better-sqlite3 (base/native-binding.ts); Node code passes none.
 */
export function openDatabase(path: string, options: { readonly?: boolean; nativeBinding?: string } = {}): Db {
  const db = new Database(path, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
    ...sqliteBinding(options.nativeBinding),
  });
  db.pragma('busy_timeout = 5000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Applies numbered migrations (`0001_name.sql`, `0002_…`) from a folder, once each, in order,
 * each in its own transaction. Sets are independent (`journal`, `vault`, …) so each service
 * owns its schema.
 */
export function migrate(db: Db, set: string, folder: string): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    migration_set TEXT NOT NULL,
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (migration_set, number)
  ) STRICT`);
  const applied = new Set(
    (db.prepare('SELECT number FROM schema_migrations WHERE migration_set = ?').all(set) as { number: number }[]).map((r) => r.number),
  );
  const files = readdirSync(folder)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  let count = 0;
  for (const file of files) {
    const number = Number(file.slice(0, 4));
    if (applied.has(number)) continue;
    const sql = readFileSync(join(folder, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (migration_set, number, name, applied_at) VALUES (?, ?, ?, ?)').run(
        set,
        number,
        file,
        Date.now(),
      );
    })();
    count += 1;
  }
  return count;
}

import Database from 'better-sqlite3';
import { MIGRATIONS_TABLE, serverMigrations } from './migrations';
import { RelationalQueries, type SqlExecutor } from './relational';
import type { Storage, StorageQueries } from './storage';

/**
 * The embedded adapter: one better-sqlite3 connection per process, WAL and synchronous=FULL so
 * an acknowledged batch survives power loss. Calls are serialised through one queue because a
 * transaction spans awaits; BEGIN IMMEDIATE takes the file's write lock, which also serialises
 * several processes sharing the file (they wait on busy_timeout).
 */
class SqliteStorage implements Storage {
  readonly kind = 'sqlite' as const;
  readonly queries: StorageQueries;
  private readonly statements = new Map<string, Database.Statement>();
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly db: Database.Database) {
    const direct: SqlExecutor = {
      all: (sql, params) => Promise.resolve(this.prepare(sql).all(...params) as Record<string, unknown>[]),
      run: (sql, params) => Promise.resolve(this.prepare(sql).run(...params).changes),
    };
    const txQueries = new RelationalQueries(direct);
    this.runTx = (fn) => this.exclusive(async () => this.inTransaction(() => fn(txQueries)));
    const queued: SqlExecutor = {
      all: (sql, params) => this.exclusive(() => direct.all(sql, params)),
      run: (sql, params) => this.exclusive(() => direct.run(sql, params)),
    };
    this.queries = new RelationalQueries(queued);
  }

  private readonly runTx: <T>(fn: (tx: StorageQueries) => Promise<T>) => Promise<T>;

  transaction<T>(fn: (tx: StorageQueries) => Promise<T>): Promise<T> {
    // BEGIN IMMEDIATE already holds the database's single write lock: the log lock comes free.
    return this.runTx(fn);
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      this.closed = true;
      this.db.close();
    });
  }

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      // Batch inserts and IN lists vary in width: keep the cache bounded so memory stays flat.
      if (this.statements.size >= 256) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private async inTransaction<T>(fn: () => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn();
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the server storage is closed'));
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Opens (creating if needed) and migrates the server database at path. */
export function openSqliteStorage(path: string): Storage {
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(MIGRATIONS_TABLE);
  const applied = new Set((db.prepare('SELECT number FROM server_migrations').all() as { number: number }[]).map((r) => r.number));
  for (const m of serverMigrations('sqlite')) {
    if (applied.has(m.number)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO server_migrations (number, name, applied_at) VALUES (?, ?, ?)').run(m.number, m.name, Date.now());
    }).immediate();
  }
  return new SqliteStorage(db);
}

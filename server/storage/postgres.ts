import { createHash } from 'node:crypto';
import pg from 'pg';
import { MIGRATIONS_TABLE, serverMigrations } from './migrations';
import { RelationalQueries, type SqlExecutor, type SqlValue } from './relational';
import type { Storage, StorageQueries } from './storage';

/** Advisory lock keys: the org-wide log append, and schema migration. Any constant works if all processes agree. */
const LOG_LOCK = 0x48_4b_4c_47; // "HKLG"
const MIGRATION_LOCK = 0x48_4b_4d_47; // "HKMG"

/** `?` placeholders → `$1…$n` (the shared SQL never contains a literal question mark). */
function numberedNow(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * Texts at least this long (the batch inserts of ingest, with thousands of placeholders) run as
 * named prepared statements: PostgreSQL parses and plans such a text once per connection instead
 * of on every batch. The name is a digest of the text, so a name never stands for another text on
 * a connection that prepared it earlier; there is one per distinct batch width in use.
 */
const PREPARE_FROM = 1_000;

/**
 * Each shared SQL text as PostgreSQL takes it, remembered: a batch insert's text has thousands of
 * placeholders and is the same for every full batch, so it is rewritten (and named) once, not per
 * statement. The cache holds the shared SQL's distinct texts (fixed statements and the batch
 * widths in use) and is cleared if it ever grows past its bound, so memory stays flat.
 */
const STATEMENTS = new Map<string, { readonly text: string; readonly name?: string }>();
function statement(sql: string, values: readonly SqlValue[]): pg.QueryConfig<SqlValue[]> {
  let known = STATEMENTS.get(sql);
  if (known === undefined) {
    if (STATEMENTS.size >= 512) STATEMENTS.clear();
    const text = numberedNow(sql);
    known = text.length < PREPARE_FROM ? { text } : { text, name: `hk_${createHash('sha256').update(text).digest('hex').slice(0, 40)}` };
    STATEMENTS.set(sql, known);
  }
  return { ...known, values: values as SqlValue[] };
}

const executor = (client: pg.Pool | pg.PoolClient): SqlExecutor => ({
  all: async (sql, params) => (await client.query(statement(sql, params))).rows as Record<string, unknown>[],
  run: async (sql, params) => (await client.query(statement(sql, params))).rowCount ?? 0,
});

/**
 * The scale-out adapter: a pg Pool per process, any number of stateless processes. Appends to
 * the log hold a transaction-scoped advisory lock, and primary keys on (device, seq) and the
 * log index refuse a double append even if a process misbehaved.
 */
class PostgresStorage implements Storage {
  readonly kind = 'postgres' as const;
  readonly queries: StorageQueries;

  constructor(private readonly pool: pg.Pool) {
    this.queries = new RelationalQueries(executor(pool));
  }

  async transaction<T>(fn: (tx: StorageQueries) => Promise<T>, options: { readonly log?: boolean } = {}): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      if (options.log) await client.query('SELECT pg_advisory_xact_lock($1)', [LOG_LOCK]);
      const result = await fn(new RelationalQueries(executor(client)));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Connects, selects the schema named by `?schema=` (created if missing), and migrates under a lock. */
export async function openPostgresStorage(url: string): Promise<Storage> {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('?schema= must be a lowercase SQL identifier');
  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    max: 10,
    ...(schema === null ? {} : { options: `-c search_path=${schema}` }),
  });
  // A dropped idle connection must not crash the server; the pool replaces it.
  pool.on('error', () => undefined);
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      if (schema !== null) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(MIGRATIONS_TABLE);
      const applied = new Set(
        (await client.query<{ number: number }>('SELECT number FROM server_migrations')).rows.map((r) => Number(r.number)),
      );
      for (const m of serverMigrations('postgres')) {
        if (applied.has(m.number)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO server_migrations (number, name, applied_at) VALUES ($1, $2, $3)', [
            m.number,
            m.name,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
  return new PostgresStorage(pool);
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One numbered migration file (`NNNN_name.sql`). */
export interface Migration {
  readonly number: number;
  readonly name: string;
  readonly sql: string;
}

/** The server's migrations for one dialect, in order, read from server/migrations/<dialect>/. */
export function serverMigrations(dialect: 'sqlite' | 'postgres'): Migration[] {
  const folder = fileURLToPath(new URL(`../migrations/${dialect}`, import.meta.url));
  return readdirSync(folder)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ number: Number(f.slice(0, 4)), name: f, sql: readFileSync(join(folder, f), 'utf8') }));
}

/** Creates the bookkeeping table; the same DDL works in both dialects. */
export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS server_migrations (
  number INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

import { execFileSync } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import pg from 'pg';

/**
 * Backs up a server database the way docs/operations.md tells an operator to: a copy of the
 * SQLite file, or `pg_dump` of the server's schema. Take it while no server has the database
 * open. Returns how to restore it (the server closed again), which drops whatever came since.
 */
export function backupStorage(storageUrl: string, file: string): { readonly restore: () => Promise<void> } {
  if (storageUrl.startsWith('sqlite:')) {
    const path = storageUrl.slice('sqlite:'.length);
    copyFileSync(path, file);
    return {
      restore: async () => {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
        copyFileSync(file, path);
      },
    };
  }
  const url = new URL(storageUrl);
  const schema = url.searchParams.get('schema');
  if (schema === null || !/^[a-z0-9_]+$/.test(schema))
    throw new Error(`backupStorage needs a PostgreSQL URL with ?schema=NAME, got ${url.origin}`);
  // libpq refuses query parameters it does not know, and `schema` is Halfkey's own.
  url.searchParams.delete('schema');
  const base = url.toString();
  execFileSync('pg_dump', ['--dbname', base, '--schema', schema, '--format', 'custom', '--file', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return {
    restore: async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
      execFileSync('pg_restore', ['--dbname', base, file], { stdio: ['ignore', 'ignore', 'pipe'] });
    },
  };
}

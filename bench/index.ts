// `npm run bench` lists the benchmarks; `npm run bench -- NAME [options]` runs one of them in a
// child process with the options passed on. Each benchmark prints its figures as ratios to the
// raw primitive measured in the same run (see the comment at the top of each file).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES: Readonly<Record<string, { readonly file: string; readonly what: string; readonly keyring?: true }>> = {
  journal: { file: 'journal.ts', what: 'journal appends and verification (1 core and every core), against raw Ed25519 signs and verifies' },
  server: {
    file: 'server.ts',
    what: 'central server ingest (SQLite; PostgreSQL with HALFKEY_TEST_PG) and a 100,000-entry backlog, against raw verifies per server core used',
  },
  'server-floor': { file: 'server-floor.ts', what: "what the server's ingest ratio can reach: HTTP, JSON and the signature pool alone" },
  'server-export-verify': { file: 'server-export-verify.ts', what: "verifying the reviewers' org-wide export, against raw verifies" },
  vault: { file: 'vault.ts', what: 'checkout-to-code and other custody paths, against their raw primitives', keyring: true },
  'vault-unlock': { file: 'vault-unlock.ts', what: 'custodian unlock, against one raw Argon2id', keyring: true },
  otp: { file: 'otp-and-password.bench.ts', what: 'TOTP codes and generated passwords, against one HMAC and the random draws they make' },
  reconcile: {
    file: 'reconcile.ts',
    what: 'CloudTrail reconciliation against a journal bundle, against raw gunzip + JSON.parse of the same files (1 thread and every thread), with peak RSS per input size',
  },
  preview: {
    file: 'preview-roundtrip.ts',
    what: 'one API call through the preview adapter, against a bare WebSocket echo of the same size',
  },
};

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h') {
  console.log("usage: npm run bench -- NAME [options]   (options as in the file's header comment)\n");
  for (const [key, b] of Object.entries(BENCHES))
    console.log(
      `  ${key.padEnd(22)}${b.what}${b.keyring ? ' (needs the OS keychain: build/with-keyring.sh npm run bench -- ' + key + ')' : ''}`,
    );
  process.exit(0);
}
const bench = BENCHES[name];
if (bench === undefined) {
  console.error(`npm run bench: no benchmark named "${name}"; one of: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const file = fileURLToPath(new URL(`./${bench.file}`, import.meta.url));
// The same Node and the same TypeScript loader flags this runner was started with.
const run = spawnSync(process.execPath, [...process.execArgv, file, ...rest], { stdio: 'inherit' });
process.exit(run.status ?? 1);

#!/usr/bin/env node
// The `halfkey` CLI entry (package.json "bin"): runs the TypeScript sources through tsx, so
// `npx halfkey …` works in a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../electron/cli/main.ts');
const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;

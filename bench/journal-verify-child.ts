// The big-bundle verifier of bench/journal.ts, run in its own process so its peak RSS is the
// verifier's alone. bench/journal.ts bundles this file with esbuild and runs it on plain node, as
// a packaged app runs its code (no TypeScript loader, which costs ~50 MB and a hooks thread).
// Run: node <bundle> --path FILE [--workers N] [--mode anchored|full]   (--workers 0: the one-core verifier)
import { parseArgs } from 'node:util';
import { verifyBundleFile } from '../electron/journal/bundle-file';
import { verifyBundleFileParallel } from '../electron/journal/parallel-verify';

const { values } = parseArgs({
  options: { path: { type: 'string' }, workers: { type: 'string' }, mode: { type: 'string' } },
  strict: true,
});
if (values.path === undefined) throw new Error('--path is required');
if (values.mode !== undefined && values.mode !== 'anchored' && values.mode !== 'full') throw new Error('--mode is anchored or full');
const mode = values.mode ?? 'anchored';
const workers = values.workers === undefined ? undefined : Number(values.workers);
const start = performance.now();
const cpu0 = process.cpuUsage();
const report =
  workers === 0
    ? await verifyBundleFile(values.path, { mode })
    : await verifyBundleFileParallel(values.path, workers === undefined ? { mode } : { mode, workers });
const cpu = process.cpuUsage(cpu0);
// CPU seconds of the whole process (main thread and worker threads), for the ratio per core used.
process.stdout.write(
  JSON.stringify({
    ms: performance.now() - start,
    cpuMs: (cpu.user + cpu.system) / 1000,
    ok: report.ok,
    mode: report.mode,
    anchored: report.chain.anchoredEntries,
    entries: report.entries,
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);

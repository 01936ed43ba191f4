import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Builds what the preview serves (dist/renderer, dist/preview) once, before any spec runs. */
export default function globalSetup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const run = spawnSync(process.execPath, ['build/bundle.mjs', 'renderer', 'preview'], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0)
    throw new Error(
      `building the renderer and the preview bridge failed (exit ${run.status ?? run.signal}); the e2e tests need dist/renderer and dist/preview`,
    );
}

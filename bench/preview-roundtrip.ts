// The preview adapter's cost per API call, as a ratio to the raw primitive it rides on, both
// measured in the same run: one app:status round trip through the preview (JSON frame, zod
// validation of request and response, the real router and services) against one round trip of
// a bare ws echo server on the same loopback with a frame of the same size.
// Run: npx tsx bench/preview-roundtrip.ts [--calls N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import { createHandlerTable } from '../electron/app/handlers';
import { openAppServices } from '../electron/app/app-services';
import { startPreview } from '../electron/preview/server';
import { createRouter } from '../electron/app/router';

const { values } = parseArgs({ options: { calls: { type: 'string' } }, strict: true });
const calls = Number(values.calls ?? 3000);
if (!Number.isInteger(calls) || calls < 100) throw new Error(`--calls must be an integer of at least 100, not "${values.calls}"`);

/** Sends `frame` and waits for the answer, `calls` times in sequence; returns round trips per second. */
async function roundTrips(socket: WebSocket, frame: (i: number) => string): Promise<number> {
  const once = (i: number): Promise<void> =>
    new Promise((resolve) => {
      socket.once('message', () => resolve());
      socket.send(frame(i));
    });
  for (let i = 0; i < 200; i++) await once(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await once(i);
  return calls / (Number(process.hrtime.bigint() - start) / 1e9);
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
}

const work = mkdtempSync(join(tmpdir(), 'halfkey-bench-preview-'));
const services = await openAppServices({ mode: 'preview', vaultDir: join(work, 'vault') });
const preview = await startPreview({ router: createRouter(createHandlerTable(services)), rendererDir: work });
const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
echo.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
await new Promise((resolve) => echo.once('listening', resolve));

try {
  const api = new WebSocket(`ws://127.0.0.1:${preview.port}/api`, { origin: `http://127.0.0.1:${preview.port}` });
  await opened(api);
  await new Promise((resolve) => {
    api.once('message', resolve);
    api.send(JSON.stringify({ token: preview.token }));
  });
  const sample = await new Promise<string>((resolve) => {
    api.once('message', (data) => resolve(data.toString()));
    api.send(JSON.stringify({ id: 0, channel: 'app:status', payload: {} }));
  });
  const raw = new WebSocket(`ws://127.0.0.1:${(echo.address() as { port: number }).port}`);
  await opened(raw);

  const rawRate = await roundTrips(raw, () => sample);
  const previewRate = await roundTrips(api, (i) => JSON.stringify({ id: i + 1, channel: 'app:status', payload: {} }));
  const print = (label: string, rate: number): void => {
    process.stdout.write(
      `${label.padEnd(44)} ${rate.toFixed(0).padStart(8)} round trips/s  ${(1e6 / rate).toFixed(1).padStart(7)} µs each\n`,
    );
  };
  print(`raw ws echo, ${sample.length}-byte frame (primitive)`, rawRate);
  print('app:status through the preview adapter', previewRate);
  process.stdout.write(
    `ratio preview / raw: ${(rawRate / previewRate).toFixed(2)}x the time of a raw round trip (${calls} sequential calls each)\n`,
  );
  raw.close();
  api.close();
} finally {
  await preview.close();
  await new Promise((resolve) => echo.close(resolve));
  await services.close();
  rmSync(work, { recursive: true, force: true });
}

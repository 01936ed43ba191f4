import { AnchorChecker, ServerDeviceHashes, type AnchorReport } from '../../shared/journal/anchors';
import { sodiumReady } from '../../shared/sodium';
import { ServerExportVerifier, exportFormatOf, type ServerExportReport } from '../../shared/sync/server-export';
import { fileLines } from '../journal/bundle-file';
import { nativePrimitives } from '../../server/native-primitives';
import { verifyServerExportRanges, verifyServerExportSplit } from './export-parallel';
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Exports smaller than this (about 8,000 entry lines) are verified on one thread: starting workers would cost more. */
const SPLIT_MIN_BYTES = 16 * 1024 * 1024;

export { SERVER_EXPORT_FORMAT } from '../../shared/sync/server-export';
import { SERVER_EXPORT_FORMAT } from '../../shared/sync/server-export';

/** The format named by a JSON Lines file's first line (null when it names none), read without loading the file. */
export async function fileFormat(path: string): Promise<string | null> {
  for await (const line of fileLines(path)) return exportFormatOf(line);
  return null;
}

/** The server key an export's header line names, or null when the first line is not a server export header. */
export async function exportHeaderKey(path: string): Promise<string | null> {
  for await (const line of fileLines(path)) {
    if (exportFormatOf(line) !== SERVER_EXPORT_FORMAT) return null;
    const key = (JSON.parse(line) as { serverKey?: unknown }).serverKey;
    return typeof key === 'string' && /^[0-9a-f]{64}$/.test(key) ? key : null;
  }
  return null;
}

/**
 * Verifies the server's org-wide export file against the pinned server key, streaming: anchored
 * on each device's checkpoints by default, every device signature with `full`.
 */
export async function verifyServerExportFile(
  path: string,
  serverKey: string,
  options: { full?: boolean; workers?: number; splitMinBytes?: number; rangeBytes?: number } = {},
): Promise<ServerExportReport> {
  await sodiumReady();
  // Anchored, on worker threads, when the file is big enough to repay starting them; a file
  // with anything wrong in it is then verified again in one piece (verifyServerExportSplit).
  const workers = options.workers ?? availableParallelism();
  if (options.full !== true && workers > 0 && statSync(path).size >= (options.splitMinBytes ?? SPLIT_MIN_BYTES)) {
    // Workers that cannot start (no script, no memory) leave the file to this thread.
    const ranges = await verifyServerExportRanges(path, serverKey, workers, options.rangeBytes).catch(() => null);
    if (ranges !== null && ranges !== 'review') return ranges;
    // Review lines are verified on the reading thread only: the chains still go to workers.
    if (ranges === 'review') {
      const split = await verifyServerExportSplit(path, serverKey, workers).catch(() => null);
      if (split !== null) return split;
    }
  }
  const verifier = new ServerExportVerifier(serverKey, nativePrimitives, { full: options.full === true });
  for await (const line of fileLines(path)) verifier.pushLine(line);
  return verifier.finish();
}

/** The device of a bundle or export line that is an entry (`{"kind":"entry","entry":…}`), else null. */
function entryOf(line: string): { device: string; seq: number; hash: string } | null {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof record !== 'object' || record === null || (record as { kind?: unknown }).kind !== 'entry') return null;
  const entry = (record as { entry?: unknown }).entry;
  if (typeof entry !== 'object' || entry === null) return null;
  const { device, seq, hash } = entry as { device?: unknown; seq?: unknown; hash?: unknown };
  return typeof device === 'string' && typeof seq === 'number' && typeof hash === 'string' ? { device, seq, hash } : null;
}

/**
 * Pins a device bundle to what is outside it (docs/journal-format.md section 10.4): the device key
 * enrolled at the server, and the server's org-wide export verified under the pinned server key.
 * Streams both files; the bundle's own verification is verifyBundleFile's, run beside this.
 */
export async function checkBundleAnchors(
  bundlePath: string,
  anchors: { readonly deviceKey?: string; readonly against?: { readonly path: string; readonly serverKey: string } },
): Promise<AnchorReport> {
  let device: string | null = null;
  for await (const line of fileLines(bundlePath)) {
    device = entryOf(line)?.device ?? null;
    if (device !== null) break;
  }
  let server: { hashes: ServerDeviceHashes; exportOk: boolean } | undefined;
  if (anchors.against !== undefined) {
    // One pass over the export: verified under the pinned key while the device's hashes are taken.
    await sodiumReady();
    const verifier = new ServerExportVerifier(anchors.against.serverKey, nativePrimitives, { full: false });
    const hashes = new ServerDeviceHashes();
    for await (const line of fileLines(anchors.against.path)) {
      verifier.pushLine(line);
      const e = device === null ? null : entryOf(line);
      if (e !== null && e.device === device) hashes.add(e.seq, e.hash);
    }
    server = { hashes, exportOk: verifier.finish().ok };
  }
  const checker = new AnchorChecker({
    ...(anchors.deviceKey === undefined ? {} : { deviceKey: anchors.deviceKey }),
    ...(server === undefined ? {} : { server }),
  });
  for await (const line of fileLines(bundlePath)) {
    const e = entryOf(line);
    if (e !== null) checker.push(e);
  }
  return checker.finish();
}

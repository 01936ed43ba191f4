import { sodiumReady } from '../../shared/sodium';
import { ServerExportVerifier, exportFormatOf, type ServerExportReport } from '../../shared/sync/server-export';
import { fileLines } from '../journal/bundle-file';
import { nativePrimitives } from '../../server/native-primitives';

export { SERVER_EXPORT_FORMAT } from '../../shared/sync/server-export';

/** The format named by a JSON Lines file's first line (null when it names none), read without loading the file. */
export async function fileFormat(path: string): Promise<string | null> {
  for await (const line of fileLines(path)) return exportFormatOf(line);
  return null;
}

/**
 * Verifies the server's org-wide export file against the pinned server key, streaming: anchored
 * on each device's checkpoints by default, every device signature with `full`.
 */
export async function verifyServerExportFile(
  path: string,
  serverKey: string,
  options: { full?: boolean } = {},
): Promise<ServerExportReport> {
  await sodiumReady();
  const verifier = new ServerExportVerifier(serverKey, nativePrimitives, { full: options.full === true });
  for await (const line of fileLines(path)) verifier.pushLine(line);
  return verifier.finish();
}

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

/** Verifies the server's org-wide export file against the pinned server key, streaming. */
export async function verifyServerExportFile(path: string, serverKey: string): Promise<ServerExportReport> {
  await sodiumReady();
  const verifier = new ServerExportVerifier(serverKey, nativePrimitives);
  for await (const line of fileLines(path)) verifier.pushLine(line);
  return verifier.finish();
}

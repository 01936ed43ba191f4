import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { fileProblem, scanLog, type FileScan } from '../../shared/reconcile/log-scan';

/** A single log file larger than this once decompressed is refused (CloudTrail delivers a file every few minutes; real ones are far smaller). */
export const MAX_LOG_BYTES = 256 * 1024 * 1024;

class TooLarge extends Error {}

const sizeText = (bytes: number): string => (bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes} bytes`);

/** The first bytes of a file, to tell gzip (1f 8b) from text whatever the file is called. */
async function head(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4);
    const { bytesRead } = await handle.read(buffer, 0, 4, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The file's bytes, gunzipped when they are gzip, streamed through node:zlib and capped at maxBytes. */
async function contentOf(path: string, gzip: boolean, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const collect = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      total += chunk.length;
      if (total > maxBytes) break;
      chunks.push(chunk);
    }
  };
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    if (gzip) await pipeline(file, createGunzip({ chunkSize: 1 << 20 }), collect);
    else await pipeline(file, collect);
  } catch (error) {
    // Stopping early tears the pipeline down; what stopped it is the size, not the teardown.
    if (total > maxBytes) throw new TooLarge();
    throw error;
  }
  if (total > maxBytes) throw new TooLarge();
  return Buffer.concat(chunks, total);
}

/**
 * Reads one CloudTrail file (a log file as written to S3, gzipped or not, or saved
 * lookup-events output) and classifies its records. Never throws for what is in the file: a
 * file that is not gzip, not JSON, too large or of the wrong shape comes back `bad` with the reason.
 */
export async function scanLogFile(path: string, maxBytes = MAX_LOG_BYTES): Promise<FileScan> {
  let bytes: Buffer;
  let gzip = false;
  try {
    const first = await head(path);
    if (first.length === 0) return fileProblem(path, 'bad', 'the file is empty');
    gzip = first[0] === 0x1f && first[1] === 0x8b;
    bytes = await contentOf(path, gzip, maxBytes);
  } catch (error) {
    if (error instanceof TooLarge)
      return fileProblem(
        path,
        'bad',
        `larger than ${sizeText(maxBytes)}${gzip ? ' once decompressed' : ''}: refused (split it, or check it is a CloudTrail log file)`,
      );
    const code = (error as NodeJS.ErrnoException).code;
    if (gzip && typeof code === 'string' && code.startsWith('Z_'))
      return fileProblem(path, 'bad', `gzip data is corrupt or cut short (${(error as Error).message})`);
    return fileProblem(path, 'bad', `could not be read (${code ?? (error instanceof Error ? error.message : 'error')})`);
  }
  // A UTF-8 byte order mark (a file saved by some editors or shells) is not JSON; AWS writes none.
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8', start));
  } catch (error) {
    const why = error instanceof Error ? error.message : 'parse error';
    return fileProblem(
      path,
      'bad',
      gzip ? `gzip-compressed, but the content is not JSON (${why})` : `neither gzip-compressed nor JSON (${why})`,
    );
  }
  return scanLog(path, json);
}

import { existsSync, statSync } from 'node:fs';
import { HalfkeyError } from '../../shared/api/result';
import { BUNDLE_FORMAT, BundleVerifier } from '../../shared/journal/bundle';
import { CustodyTimelineBuilder, type CustodyTimeline } from '../../shared/reconcile/custody-timeline';
import { sodiumReady } from '../../shared/sodium';
import { SERVER_EXPORT_FORMAT, ServerExportVerifier } from '../../shared/sync/server-export';
import { fileLines } from '../journal/bundle-file';
import { nativePrimitives } from '../../server/native-primitives';
import { fileFormat } from '../sync/server-export-file';

export type JournalInput =
  | { readonly kind: 'bundle'; readonly path: string; readonly serverKeys?: readonly string[] | undefined }
  | { readonly kind: 'server-export'; readonly path: string; readonly serverKey: string };

export interface VerifiedJournal {
  readonly timeline: CustodyTimeline;
  readonly devices: number;
}

const FORMAT_OF = { bundle: BUNDLE_FORMAT, 'server-export': SERVER_EXPORT_FORMAT } as const;
const FLAG_OF = { bundle: '--journal', 'server-export': '--server-export' } as const;

/** The entry a bundle or export line carries, if any (both formats put it under `entry` on a `kind: "entry"` line). */
function entryOfLine(line: string): unknown {
  try {
    const record = JSON.parse(line) as { kind?: unknown; entry?: unknown };
    return record.kind === 'entry' ? record.entry : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies the journal and reads custody from it in one streamed pass: every line goes to the
 * verifier and to the timeline, and the timeline is used only if the whole file verifies, so
 * what is reconciled is exactly what was verified (no second read the file could change under).
 * A journal that does not verify is refused: its entries may have been edited.
 */
export async function readVerifiedJournal(input: JournalInput): Promise<VerifiedJournal> {
  if (!existsSync(input.path) || !statSync(input.path).isFile())
    throw new HalfkeyError('NOT_FOUND', `There is no journal file at ${input.path}.`, { field: 'journal.path' });
  const format = await fileFormat(input.path);
  if (format !== FORMAT_OF[input.kind]) {
    const other = input.kind === 'bundle' ? 'server-export' : 'bundle';
    const hint =
      format === FORMAT_OF[other]
        ? `it is a ${other === 'bundle' ? 'device journal bundle' : 'server export'}: pass it with ${FLAG_OF[other]}`
        : 'its first line names no Halfkey journal format';
    throw new HalfkeyError(
      'INVALID_PAYLOAD',
      `${input.path} is not a ${input.kind === 'bundle' ? 'device journal bundle' : 'server export'}: ${hint}.`,
      { field: 'journal.path' },
    );
  }
  await sodiumReady();
  const builder = new CustodyTimelineBuilder();
  const end = { unterminated: false };
  if (input.kind === 'bundle') {
    const verifier = new BundleVerifier({
      primitives: nativePrimitives,
      ...(input.serverKeys === undefined ? {} : { serverKeys: input.serverKeys }),
    });
    for await (const line of fileLines(input.path, end)) {
      verifier.pushLine(line);
      builder.push(entryOfLine(line));
    }
    const report = verifier.finish(end);
    if (!report.ok) {
      const first = report.failures[0];
      refuse(
        input.path,
        report.failureCount,
        first ? `${first.seq === null ? 'the bundle' : `seq ${first.seq}`}: ${first.code}: ${first.reason}` : 'no detail',
      );
    }
    return { timeline: builder.finish(), devices: 1 };
  }
  const verifier = new ServerExportVerifier(input.serverKey, nativePrimitives);
  for await (const line of fileLines(input.path)) {
    verifier.pushLine(line);
    builder.push(entryOfLine(line));
  }
  const report = verifier.finish();
  if (!report.ok) {
    const first = report.failures[0];
    refuse(
      input.path,
      report.failureCount,
      first
        ? `${first.device === null ? 'the export' : `device ${first.device.slice(0, 16)}… seq ${first.seq ?? '?'}`}: ${first.code}: ${first.reason}`
        : 'no detail',
    );
  }
  return { timeline: builder.finish(), devices: report.devices.length };
}

function refuse(path: string, failures: number, first: string): never {
  throw new HalfkeyError(
    'JOURNAL_INVALID',
    `The journal ${path} does not verify (${failures} failure${failures === 1 ? '' : 's'}; first at ${first}), so nothing was reconciled against it: its entries may have been changed. Check it with halfkey journal verify and reconcile against an intact export.`,
    { failures },
  );
}

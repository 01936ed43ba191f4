import { classifyRecord, cleanText, logShapeOf, recordOfLookupEvent, type RootEvent, type SkipReason } from './cloudtrail-record';

/** Skipped records listed in full per file, and overall; beyond that they are counted by reason. */
export const MAX_SKIPPED_LISTED = 1_000;
/** Bad or ignored files listed in full; beyond that they are counted. */
export const MAX_FILES_LISTED = 1_000;

export interface SkippedRecord {
  readonly file: string;
  readonly record: number;
  readonly eventId: string | null;
  readonly reason: SkipReason;
  readonly detail: string;
}

/** The first and last record time seen for an account: what the logs cover. */
export interface AccountSpan {
  readonly account: string;
  readonly from: number;
  readonly to: number;
}

/**
 * What one file came to. `read`: its records were classified; `bad`: it could not be read (the
 * reason says why, nothing in it was used); `digest`: a log-validation digest file, which holds
 * no records; `ignored`: found in a folder walk but not named like a log file (.json, .json.gz).
 */
export interface FileScan {
  readonly path: string;
  readonly status: 'read' | 'bad' | 'digest' | 'ignored';
  readonly reason: string | null;
  readonly records: number;
  readonly otherRecords: number;
  readonly root: readonly RootEvent[];
  readonly skipped: readonly SkippedRecord[];
  readonly skippedByReason: Readonly<Partial<Record<SkipReason, number>>>;
  readonly coverage: readonly AccountSpan[];
}

/** A file passed over; the reason is cleaned (a parse error can quote the file's own bytes). */
export function fileProblem(path: string, status: 'bad' | 'ignored', reason: string): FileScan {
  return {
    path,
    status,
    reason: cleanText(reason, 300),
    records: 0,
    otherRecords: 0,
    root: [],
    skipped: [],
    skippedByReason: {},
    coverage: [],
  };
}

/** Classifies every record of a parsed file (a log file or lookup-events output). */
export function scanLog(path: string, json: unknown): FileScan {
  const shape = logShapeOf(json);
  if (shape.kind === 'bad') return fileProblem(path, 'bad', shape.reason);
  if (shape.kind === 'digest')
    return {
      ...fileProblem(path, 'ignored', ''),
      status: 'digest',
      reason: 'a CloudTrail digest file (log file validation): it holds no records',
    };
  const root: RootEvent[] = [];
  const skipped: SkippedRecord[] = [];
  const byReason: Partial<Record<SkipReason, number>> = {};
  const spans = new Map<string, { from: number; to: number }>();
  let other = 0;
  const items = shape.kind === 'log-file' ? shape.records : shape.events;
  const skip = (index: number, reason: SkipReason, detail: string, eventId: string | null): void => {
    byReason[reason] = (byReason[reason] ?? 0) + 1;
    if (skipped.length < MAX_SKIPPED_LISTED) skipped.push({ file: path, record: index, eventId, reason, detail });
  };
  const cover = (account: string | null, time: number): void => {
    if (account === null) return;
    const span = spans.get(account);
    if (span === undefined) spans.set(account, { from: time, to: time });
    else {
      if (time < span.from) span.from = time;
      if (time > span.to) span.to = time;
    }
  };
  for (let index = 0; index < items.length; index++) {
    let record: unknown = items[index];
    if (shape.kind === 'lookup-events') {
      const inner = recordOfLookupEvent(record);
      if ('problem' in inner) {
        skip(index, 'BAD_LOOKUP_EVENT', inner.problem, null);
        continue;
      }
      record = inner.record;
    }
    const outcome = classifyRecord(record);
    switch (outcome.kind) {
      case 'root':
        root.push({ ...outcome.event, file: path, record: index });
        cover(outcome.event.account, outcome.event.time);
        break;
      case 'other':
        other += 1;
        cover(outcome.account, outcome.time);
        break;
      case 'skipped':
        skip(index, outcome.reason, outcome.detail, outcome.eventId);
        break;
      default: {
        const never: never = outcome;
        return never;
      }
    }
  }
  return {
    path,
    status: 'read',
    reason: null,
    records: items.length,
    otherRecords: other,
    root,
    skipped,
    skippedByReason: byReason,
    coverage: [...spans].map(([account, span]) => ({ account, ...span })),
  };
}

/** Everything read from the CloudTrail input, folded file by file: memory grows with root activity, not with files. */
export interface ScanTotals {
  readonly files: number;
  readonly filesRead: number;
  readonly filesBad: number;
  readonly filesIgnored: number;
  readonly digestFiles: number;
  readonly records: number;
  readonly otherRecords: number;
  readonly rootRecords: number;
  /** Root records seen again with an eventID already read (a global event in two trails, or a file given twice). */
  readonly duplicateRootRecords: number;
  /** Distinct root events, in no particular order. */
  readonly root: readonly RootEvent[];
  readonly skippedCount: number;
  readonly skippedByReason: Readonly<Partial<Record<SkipReason, number>>>;
  readonly skipped: readonly SkippedRecord[];
  readonly badFiles: readonly { readonly path: string; readonly reason: string }[];
  readonly ignoredFiles: readonly { readonly path: string; readonly reason: string }[];
  readonly coverage: readonly AccountSpan[];
}

/** Folds file scans into totals as they arrive, in any order. */
export class ScanFold {
  private files = 0;
  private filesRead = 0;
  private filesBad = 0;
  private filesIgnored = 0;
  private digestFiles = 0;
  private records = 0;
  private otherRecords = 0;
  private rootRecords = 0;
  private duplicates = 0;
  private skippedCount = 0;
  private readonly root: RootEvent[] = [];
  private readonly seen = new Set<string>();
  private readonly byReason: Partial<Record<SkipReason, number>> = {};
  private readonly skipped: SkippedRecord[] = [];
  private readonly badFiles: { path: string; reason: string }[] = [];
  private readonly ignoredFiles: { path: string; reason: string }[] = [];
  private readonly spans = new Map<string, { from: number; to: number }>();

  add(scan: FileScan): void {
    this.files += 1;
    switch (scan.status) {
      case 'bad':
        this.filesBad += 1;
        if (this.badFiles.length < MAX_FILES_LISTED) this.badFiles.push({ path: scan.path, reason: scan.reason ?? 'unreadable' });
        return;
      case 'ignored':
      case 'digest':
        if (scan.status === 'digest') this.digestFiles += 1;
        this.filesIgnored += 1;
        if (this.ignoredFiles.length < MAX_FILES_LISTED) this.ignoredFiles.push({ path: scan.path, reason: scan.reason ?? 'ignored' });
        return;
      case 'read':
        break;
      default: {
        const never: never = scan.status;
        return never;
      }
    }
    this.filesRead += 1;
    this.records += scan.records;
    this.otherRecords += scan.otherRecords;
    for (const event of scan.root) {
      this.rootRecords += 1;
      // eventID is unique per event (CloudTrail record contents); a record without one is kept as is.
      if (event.eventId !== null) {
        const key = `${event.account} ${event.eventId}`;
        if (this.seen.has(key)) {
          this.duplicates += 1;
          continue;
        }
        this.seen.add(key);
      }
      this.root.push(event);
    }
    for (const [reason, n] of Object.entries(scan.skippedByReason) as [SkipReason, number][]) {
      this.byReason[reason] = (this.byReason[reason] ?? 0) + n;
      this.skippedCount += n;
    }
    for (const s of scan.skipped) if (this.skipped.length < MAX_SKIPPED_LISTED) this.skipped.push(s);
    for (const c of scan.coverage) {
      const span = this.spans.get(c.account);
      if (span === undefined) this.spans.set(c.account, { from: c.from, to: c.to });
      else {
        span.from = Math.min(span.from, c.from);
        span.to = Math.max(span.to, c.to);
      }
    }
  }

  totals(): ScanTotals {
    const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    return {
      files: this.files,
      filesRead: this.filesRead,
      filesBad: this.filesBad,
      filesIgnored: this.filesIgnored,
      digestFiles: this.digestFiles,
      records: this.records,
      otherRecords: this.otherRecords,
      rootRecords: this.rootRecords,
      duplicateRootRecords: this.duplicates,
      root: this.root,
      skippedCount: this.skippedCount,
      skippedByReason: { ...this.byReason },
      skipped: [...this.skipped],
      badFiles: [...this.badFiles].sort(byPath),
      ignoredFiles: [...this.ignoredFiles].sort(byPath),
      coverage: [...this.spans]
        .map(([account, s]) => ({ account, from: s.from, to: s.to }))
        .sort((a, b) => (a.account < b.account ? -1 : 1)),
    };
  }
}

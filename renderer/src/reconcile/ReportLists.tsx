import type { ReactElement } from 'react';
import { ReportTable } from './ReportTable';
import { checkoutHolder, type ReconcileResult } from './reportTypes';

/** Checkouts with no root activity: not a fault, but the reviewer should see each reason fits. */
export function UnusedCheckouts({ list }: { readonly list: ReconcileResult['unusedCheckouts'] }): ReactElement {
  return (
    <ReportTable
      caption="Checkouts with no root activity"
      captionHidden
      columns={[
        { title: 'Seq', mono: true },
        { title: 'Account', mono: true },
        { title: 'Half' },
        { title: 'Custodian' },
        { title: 'Reason' },
        { title: 'Window' },
        { title: 'Logs' },
      ]}
      rows={list.map(({ checkout: c, coverage }) => ({
        key: `${c.vault}:${c.checkout}`,
        cells: [
          c.seq,
          c.account,
          c.item,
          checkoutHolder(c),
          `${c.reason}${c.ticket === null ? '' : ` [${c.ticket}]`}`,
          `${c.openedAt} to ${c.endedAt} (${c.ended})`,
          coverage,
        ],
      }))}
    />
  );
}

/** Password rotations in custody that no password change at AWS confirmed. */
export function RotationsNotSeen({ list }: { readonly list: ReconcileResult['rotationsNotSeen'] }): ReactElement {
  return (
    <ReportTable
      caption="Password rotations not seen at AWS"
      captionHidden
      columns={[
        { title: 'Seq', mono: true },
        { title: 'Account', mono: true },
        { title: 'Entry', mono: true },
        { title: 'Time' },
        { title: 'By' },
        { title: 'Logs' },
      ]}
      rows={list.map(({ rotation: r, covered }) => ({
        key: `${r.vault}:${r.seq}`,
        cells: [r.seq, r.account, r.type, r.time, r.actor ?? 'the device', covered ? 'cover the time after it' : 'end before it'],
      }))}
    />
  );
}

/** Bad and ignored files and skipped records, each with its reason: nothing is passed over silently. */
export function NotRead({ report }: { readonly report: ReconcileResult }): ReactElement {
  const files = [
    ...report.badFiles.map((f) => ({ ...f, what: 'bad: nothing in it was read' })),
    ...report.ignoredFiles.map((f) => ({ ...f, what: 'ignored' })),
  ];
  const c = report.counts;
  const listed = files.length + report.skippedRecords.length;
  const total = c.filesBad + c.filesIgnored + c.skippedRecords;
  return (
    <>
      {files.length > 0 && (
        <ReportTable
          caption="Files not read"
          columns={[{ title: 'File', mono: true }, { title: 'What' }, { title: 'Reason' }]}
          rows={files.map((f) => ({ key: `${f.what}:${f.path}`, cells: [f.path, f.what, f.reason] }))}
        />
      )}
      {report.skippedRecords.length > 0 && (
        <ReportTable
          caption="Skipped records"
          columns={[{ title: 'File', mono: true }, { title: 'Record', mono: true }, { title: 'Event ID', mono: true }, { title: 'Reason' }]}
          rows={report.skippedRecords.map((s) => ({
            key: `${s.file}:${s.record}`,
            cells: [
              s.file,
              s.record,
              s.eventId ?? '—',
              <>
                <span className="mono">{s.reason}</span> {s.detail}
              </>,
            ],
          }))}
        />
      )}
      {/* The report keeps the first 1,000 of each list; the counts are always whole. */}
      {total > listed && (
        <p className="muted">
          The report lists the first {listed.toLocaleString('en-US')} of {total.toLocaleString('en-US')}; the counts above are whole.
        </p>
      )}
    </>
  );
}

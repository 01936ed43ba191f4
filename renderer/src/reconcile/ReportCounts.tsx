import type { ReactElement } from 'react';
import { Facts } from '../components/Facts';
import { ReportTable } from './ReportTable';
import { counted, type ReconcileResult } from './reportTypes';

/**
 * What was read, always shown first: a clean verdict means little if half the files were bad or
 * the records were skipped, so the counts and every skip reason come before any finding.
 */
export function ReportCounts({ report }: { readonly report: ReconcileResult }): ReactElement {
  const c = report.counts;
  const j = report.journal;
  return (
    <>
      <p>
        Journal verified: the {j.kind === 'bundle' ? 'bundle' : 'server export'} <span className="mono reconcile-path">{j.path}</span>,{' '}
        {counted(j.entries, 'entry', 'entries')} from {counted(j.devices, 'device')}; {counted(j.accounts.length, 'account')},{' '}
        {counted(j.checkouts, 'checkout')}, {counted(j.breakGlassSessions, 'break-glass session')}. Slack:{' '}
        {counted(report.slackSeconds, 'second')} at both ends of every window.
      </p>
      <Facts
        items={[
          {
            label: 'Files',
            value: `${c.files} (${c.filesRead} read, ${c.filesBad} bad, ${c.filesIgnored} ignored of which ${c.digestFiles} digest)`,
          },
          { label: 'Records', value: c.records },
          { label: 'Root records', value: `${c.rootRecords} (${c.rootEvents} distinct, ${c.duplicateRootRecords} duplicate)` },
          { label: 'Other principals', value: c.otherRecords },
          { label: 'Skipped records', value: c.skippedRecords },
        ]}
      />
      {report.skippedByReason.length === 0 ? (
        <p className="muted">No record was skipped.</p>
      ) : (
        <ReportTable
          caption="Skipped records by reason"
          columns={[{ title: 'Reason', mono: true }, { title: 'Records' }]}
          rows={report.skippedByReason.map((s) => ({ key: s.reason, cells: [s.reason, s.count] }))}
        />
      )}
      {report.coverage.length > 0 && (
        <ReportTable
          caption="What the logs cover, per account"
          columns={[{ title: 'Account', mono: true }, { title: 'First record' }, { title: 'Last record' }]}
          rows={report.coverage.map((span) => ({ key: span.account, cells: [span.account, span.from, span.to] }))}
        />
      )}
    </>
  );
}

import type { ReactElement, ReactNode } from 'react';

/** One row: a stable key and a cell per column. */
export interface ReportRow {
  readonly key: string;
  readonly cells: readonly ReactNode[];
}

/**
 * The report's small tables (counts by reason, coverage, checkouts, files, records): a caption,
 * column headers (`mono` for ids, codes and paths) and rows. `captionHidden` where a heading above
 * already says what the table is.
 */
export function ReportTable(props: {
  readonly caption: string;
  readonly captionHidden?: boolean;
  readonly columns: readonly { readonly title: string; readonly mono?: boolean }[];
  readonly rows: readonly ReportRow[];
}): ReactElement {
  return (
    <table className="table reconcile-small">
      <caption className={props.captionHidden === true ? 'visually-hidden' : undefined}>{props.caption}</caption>
      <thead>
        <tr>
          {props.columns.map((column) => (
            <th key={column.title} scope="col">
              {column.title}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr key={row.key}>
            {row.cells.map((cell, i) => (
              <td key={props.columns[i]?.title ?? i} className={props.columns[i]?.mono === true ? 'mono reconcile-path' : undefined}>
                {cell}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

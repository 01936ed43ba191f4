import type { ReactElement, ReactNode } from 'react';

/** A row of labelled facts (a description list); `mono` marks ids, hashes and fingerprints. */
export function Facts({
  items,
}: {
  readonly items: readonly { readonly label: string; readonly value: ReactNode; readonly mono?: boolean; readonly title?: string }[];
}): ReactElement {
  return (
    <dl className="facts">
      {items.map((item) => (
        <div key={item.label}>
          <dt>{item.label}</dt>
          <dd className={item.mono === true ? 'mono' : undefined} title={item.title}>
            {item.value}
          </dd>
        </div>
      ))}
    </dl>
  );
}

import type { ReactElement } from 'react';
import type { Custodian } from '../api/types';
import { custodianLabel } from '../session/session';

/**
 * The custodians holding one custody item; an admin gets a remove button per holder (the vault
 * refuses to drop the last holder of a half that has a secret, and says so).
 */
export function HolderList(props: {
  readonly holders: readonly string[];
  readonly custodians: readonly Custodian[];
  readonly itemLabel: string;
  readonly onRemove: ((custodianId: string) => void) | null;
}): ReactElement {
  if (props.holders.length === 0) return <span className="muted">nobody</span>;
  return (
    <ul className="holders">
      {props.holders.map((id) => {
        const label = custodianLabel(props.custodians, id);
        return (
          <li key={id}>
            {label}
            {props.onRemove !== null && (
              <button
                type="button"
                className="link-button"
                onClick={() => props.onRemove?.(id)}
                aria-label={`Remove ${label} from the ${props.itemLabel}`}
              >
                Remove
              </button>
            )}
          </li>
        );
      })}
    </ul>
  );
}

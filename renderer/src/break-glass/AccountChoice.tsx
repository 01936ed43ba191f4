import { useCallback, useState, type ReactElement } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError } from '../api/types';
import { usePolled } from '../api/usePolled';

/** The vault's accounts (read every 10 s) and the one chosen: the first until someone picks another. */
export interface AccountChoice {
  readonly choices: readonly { readonly accountId: string; readonly alias: string }[];
  readonly chosen: string;
  readonly choose: (accountId: string) => void;
  readonly error: ApiError | null;
}

export function useAccountChoice(key: string): AccountChoice {
  const readAccounts = useCallback(() => halfkey().custodyAccountList({ limit: 500 }), []);
  const accounts = usePolled(readAccounts, key, 10_000);
  const [picked, choose] = useState('');
  const choices = accounts.value?.accounts ?? [];
  return { choices, chosen: picked === '' ? (choices[0]?.accountId ?? '') : picked, choose, error: accounts.error };
}

/** A labelled select of the accounts, by id and alias. */
export function AccountSelect({ id, choice }: { readonly id: string; readonly choice: AccountChoice }): ReactElement {
  return (
    <div className="field">
      <label htmlFor={id}>Account</label>
      <select id={id} value={choice.chosen} onChange={(event) => choice.choose(event.target.value)}>
        {choice.choices.map((a) => (
          <option key={a.accountId} value={a.accountId}>
            {a.accountId} ({a.alias})
          </option>
        ))}
      </select>
    </div>
  );
}

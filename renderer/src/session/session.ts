import { useCallback, useEffect, useState } from 'react';
import { attempt } from '../api/call';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';

/**
 * Who is at the keyboard: the custodians of the open vault and the one acting now. Every
 * custody call names the actor as `by`; the main process checks they are unlocked.
 */
export interface Session {
  readonly custodians: readonly Custodian[];
  readonly listError: ApiError | null;
  readonly actor: Custodian | null;
  readonly setActor: (id: string | null) => void;
  readonly refresh: () => Promise<void>;
}

/** Loads the custodian list (again whenever `vaultKey` changes) and keeps the acting custodian. */
export function useSession(vaultKey: string): Session {
  const [custodians, setCustodians] = useState<readonly Custodian[]>([]);
  const [listError, setListError] = useState<ApiError | null>(null);
  const [actorId, setActorId] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    const result = await attempt(() => halfkey().custodianList({}));
    if (result.ok) {
      setCustodians(result.value.custodians);
      setListError(null);
    } else {
      setCustodians([]);
      setListError(result.error);
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh, vaultKey]);
  const found = custodians.find((c) => c.id === actorId) ?? null;
  // A custodian locked elsewhere (idle lock, lock all) stops acting.
  const actor = found !== null && found.unlocked ? found : null;
  return { custodians, listError, actor, setActor: setActorId, refresh };
}

/** A custodian's display name with role, or the raw id when unknown. */
export function custodianLabel(custodians: readonly Custodian[], id: string): string {
  const c = custodians.find((x) => x.id === id);
  return c === undefined ? id : `${c.name} (${c.organisation})`;
}

/** The words shown for a role. */
export const ROLE_LABELS: Readonly<Record<Custodian['role'], string>> = {
  admin: 'Vault admin',
  'password-custodian': 'Password custodian',
  'mfa-custodian': 'MFA custodian',
  reviewer: 'Reviewer',
};

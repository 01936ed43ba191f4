import { createContext, useContext } from 'react';
import { halfkey } from '../api/halfkey';
import type { ApiError, Custodian } from '../api/types';
import { usePolled } from '../api/usePolled';

/**
 * Who is at the keyboard: the custodians of the open vault and the one acting now. The main
 * process decides who acts (whoever unlocked last, with their passphrase; everyone else is locked),
 * so the page only reads it. Every custody call names the actor as `by`.
 */
export interface Session {
  readonly custodians: readonly Custodian[];
  readonly listError: ApiError | null;
  readonly actor: Custodian | null;
  readonly refresh: () => Promise<void>;
}

/**
 * How often the list is read again: the idle lock and the presence window run in the main process,
 * and the countdowns must follow them (custodian:list reads them without counting as activity).
 */
const POLL_MS = 3000;

const readCustodians = () => halfkey().custodianList({});

const NOBODY: readonly Custodian[] = [];

/** Loads the custodian list (again whenever `vaultKey` changes, and every few seconds). */
export function useSession(vaultKey: string): Session {
  const { value, error, refresh } = usePolled(readCustodians, vaultKey, POLL_MS);
  const custodians = value?.custodians ?? NOBODY;
  const actor = custodians.find((c) => c.actor && c.unlocked && !c.revoked) ?? null;
  return { custodians, listError: error, actor, refresh };
}

/**
 * The session for components deep in a screen (a presence prompt re-unlocks the actor and must
 * refresh the header's countdowns); screens still receive it as a prop.
 */
export const SessionContext = createContext<Session | null>(null);

/** The session the shell provides; throws outside it, where no custodian could be acting. */
export function useSessionContext(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSessionContext outside the shell: wrap the screen in SessionContext.Provider.');
  return session;
}

/** A custodian's display name with role, or the raw id when unknown. */
export function custodianLabel(custodians: readonly Custodian[], id: string): string {
  const c = custodians.find((x) => x.id === id);
  return c === undefined ? id : `${c.name} (${c.organisation})`;
}

/**
 * An error as a person reads it: the vault's messages name custodians by id (a journal needs the
 * id); the page says their names.
 */
export function withCustodianNames(error: ApiError, custodians: readonly Custodian[]): ApiError {
  const message = error.message.replace(/\b[0-9a-f]{32}\b/g, (id) => custodians.find((c) => c.id === id)?.name ?? id);
  return { ...error, message };
}

/** The words shown for a role. */
export const ROLE_LABELS: Readonly<Record<Custodian['role'], string>> = {
  admin: 'Vault admin',
  'password-custodian': 'Password custodian',
  'mfa-custodian': 'MFA custodian',
  reviewer: 'Reviewer',
};

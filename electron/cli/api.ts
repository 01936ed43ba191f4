import type { Channel, RequestOf, ResponseOf } from '../../shared/api/contract';
import type { ApiError } from '../../shared/api/result';
import type { RouterLog } from '../app/router';
import type { CliIo } from './cli-io';

/**
 * The CLI adapter: the third one over the API router, beside electron/main/ipc-adapter.ts and the
 * preview's WebSocket. A command opens the app's services for its vault folder in `cli` mode,
 * builds requests, and sends each through `router.call(channel, payload, { adapter: 'cli' })`, so
 * the router's schema checks and the handlers' rules are the CLI's too. Nothing here opens a
 * vault, a database or a keychain itself (the lint refuses those imports in electron/cli/).
 */

/** How a command names a request's fields to its user: `accountId` → `--account`. */
export type FieldWords = Readonly<Record<string, string>>;

/** The router refused or failed a call: its `{ ok: false, error }`, with the channel and how the command names its fields. */
export class ApiFailure extends Error {
  override readonly name = 'ApiFailure';
  constructor(
    readonly channel: Channel,
    readonly error: ApiError,
    readonly words: FieldWords = {},
  ) {
    super(error.message);
  }
}

/** The API as a command sees it: a call resolves to the response or throws ApiFailure. */
export interface CliApi {
  call<C extends Channel>(channel: C, request: RequestOf<C>, words?: FieldWords): Promise<ResponseOf<C>>;
  /** Closes the vault (zeroing keys, ending the journal session) and the services. */
  close(): Promise<void>;
}

export interface CliApiOptions {
  /** The vault folder (absolute). */
  readonly vaultDir: string;
  /** The command's words (`journal export`), recorded in the journal session; never its arguments. */
  readonly command: string;
  /** Where the router's log of unexpected failures goes (the CLI has no application log: stderr). */
  readonly log?: RouterLog;
}

export type OpenCliApi = (options: CliApiOptions) => Promise<CliApi>;

/** Opens the services of one vault folder in `cli` mode behind a router (loaded here, so `journal verify` never loads them). */
export const openCliApi: OpenCliApi = async ({ vaultDir, command, log }) => {
  const [{ openAppServices }, { createHandlerTable }, { createRouter }] = await Promise.all([
    import('../app/app-services'),
    import('../app/handlers'),
    import('../app/router'),
  ]);
  const services = await openAppServices({ mode: 'cli', vaultDir, command });
  const router = createRouter(createHandlerTable(services), log);
  return {
    async call<C extends Channel>(channel: C, request: RequestOf<C>, words?: FieldWords): Promise<ResponseOf<C>> {
      const result = await router.call(channel, request, { adapter: 'cli' });
      if (!result.ok) throw new ApiFailure(channel, result.error, words);
      return result.value as ResponseOf<C>;
    },
    close: () => services.close(),
  };
};

/** Fields named the same way by every command. */
const COMMON_WORDS: FieldWords = { by: '--as', accountId: '--account', item: '--item', checkoutId: '--checkout', reason: '--reason' };

/**
 * The failure in the user's words. A router refusal of the payload (INVALID_PAYLOAD with the
 * schema's issue) names the option the field came from; a service's own message already speaks
 * to a person and is passed on as it is.
 */
export function describeFailure(failure: ApiFailure): string {
  const { field, issue } = failure.error.detail ?? {};
  if (failure.error.code !== 'INVALID_PAYLOAD' || typeof field !== 'string' || typeof issue !== 'string') return failure.error.message;
  const top = field.split('.')[0] ?? field;
  const words = failure.words[field] ?? failure.words[top] ?? COMMON_WORDS[field] ?? COMMON_WORDS[top] ?? field;
  return `${words}: ${issue}`;
}

/**
 * Runs `use` against the API of the vault in `vaultDir` and always closes it afterwards. The
 * router's log of unexpected failures goes to stderr: the CLI has no other application log.
 */
export async function withApi<T>(io: CliIo, command: string, vaultDir: string, use: (api: CliApi) => Promise<T>): Promise<T> {
  const log: RouterLog = (event) => {
    if (event.code === 'INTERNAL') io.stderr(`halfkey ${command}: ${event.channel} failed unexpectedly (${event.message})\n`);
  };
  const api = await openCliApi({ vaultDir, command, log });
  try {
    return await use(api);
  } finally {
    await api.close();
  }
}

/** Opens the vault and unlocks custodian `as`, as the app does before a custodian acts; later calls pass `by: as`. */
export async function unlockAs(api: CliApi, as: string, passphrase: string): Promise<ResponseOf<'custodian:unlock'>> {
  await api.call('vault:open', {});
  return api.call('custodian:unlock', { custodianId: as, passphrase }, { custodianId: '--as', passphrase: 'the passphrase' });
}

import { channels, isChannel, type Channel, type RequestOf, type ResponseOf } from '../../shared/api/contract';
import { fail, HalfkeyError, ok, type ApiResult } from '../../shared/api/result';

/** Who is calling, as established by the adapter before the router runs (`cli`: one `halfkey` command, electron/cli/). */
export interface CallContext {
  readonly adapter: 'electron' | 'preview' | 'cli' | 'test';
}

export type Handler<C extends Channel> = (request: ResponseOfRequest<C>, context: CallContext) => Promise<ResponseOf<C>> | ResponseOf<C>;
type ResponseOfRequest<C extends Channel> = import('zod').output<(typeof channels)[C]['request']>;

export type HandlerTable = { readonly [C in Channel]: Handler<C> };

/** One entry point for every API call, whichever adapter carried it. */
export interface ApiRouter {
  call(channel: unknown, payload: unknown, context: CallContext): Promise<ApiResult<unknown>>;
}

/** Logs a failure without its payload: payloads may hold passphrases or secrets. */
export type RouterLog = (event: { channel: string; code: string; message: string }) => void;

/**
 * The single wrapper around every handler: refuse unknown channels, validate the payload
 * against the channel's schema, run the handler, and turn any failure into a typed error.
 * Nothing is ever thrown into the page.
 */
export function createRouter(handlers: HandlerTable, log: RouterLog = () => {}): ApiRouter {
  return {
    async call(channel, payload, context) {
      if (!isChannel(channel)) {
        const name = typeof channel === 'string' ? channel.slice(0, 64) : typeof channel;
        log({ channel: String(name), code: 'UNKNOWN_CHANNEL', message: 'unknown channel' });
        return fail('UNKNOWN_CHANNEL', `There is no API channel named "${name}".`);
      }
      const parsed = channels[channel].request.safeParse(payload ?? {});
      if (!parsed.success) {
        const first = parsed.error.issues[0];
        const where = first && first.path.length > 0 ? first.path.join('.') : 'payload';
        const issue = first?.message ?? 'does not match the schema';
        const message = `Invalid request for ${channel}: ${where}: ${issue}.`;
        log({ channel, code: 'INVALID_PAYLOAD', message });
        // The schema's own words (never the value) apart from the field, for an adapter that names
        // the field its own way (the CLI says `--account`, not `accountId`).
        return fail('INVALID_PAYLOAD', message, { field: where, issue });
      }
      try {
        const handler = handlers[channel] as Handler<Channel>;
        const value = await handler(parsed.data as never, context);
        return ok(channels[channel].response.parse(value) as ResponseOf<Channel>);
      } catch (error) {
        if (error instanceof HalfkeyError) {
          log({ channel, code: error.code, message: error.message });
          return fail(error.code, error.message, error.detail);
        }
        // An unexpected error's text may carry internals; the page gets a generic message.
        log({ channel, code: 'INTERNAL', message: error instanceof Error ? error.name : 'non-error thrown' });
        return fail('INTERNAL', `${channel} failed unexpectedly; see the application log.`);
      }
    },
  };
}

export type { RequestOf };

import { hash } from 'node:crypto';
import type { EntrySigner } from '../../shared/journal/entry';
import { sodiumNow } from '../../shared/sodium';
import { signedRequestHeaders, wireErrorSchema, type WireErrorCode } from '../../shared/sync/wire';

/** What came back from the server: a status and the parsed JSON body (null when none or not JSON). */
export interface WireResponse {
  readonly status: number;
  readonly body: unknown;
}

/** A refusal from the server with its stable code; `evidence` carries a fork's two entries. */
export class ServerRefusal extends Error {
  override readonly name = 'ServerRefusal';
  constructor(
    readonly status: number,
    readonly code: WireErrorCode | 'UNEXPECTED_RESPONSE',
    message: string,
    readonly evidence?: unknown,
  ) {
    super(message);
  }
}

/** The network could not be used (refused, reset, timed out): the client is offline, not refused. */
export class ServerUnreachable extends Error {
  override readonly name = 'ServerUnreachable';
}

/**
 * Sends one request; signs it with the device key when a signer is given. Timeouts count as
 * unreachable. The body is `json` serialized, or `jsonText` as given (JSON the caller serialized
 * already, e.g. a batch whose entries it measured one by one).
 */
export async function sendRequest(
  baseUrl: string,
  request: {
    readonly method: 'GET' | 'POST';
    readonly path: string;
    readonly json?: unknown;
    readonly jsonText?: string;
    readonly signer?: EntrySigner;
    readonly device?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly timeoutMs?: number;
    readonly now?: number;
  },
): Promise<WireResponse> {
  const sodium = sodiumNow();
  const text = request.jsonText ?? (request.json === undefined ? undefined : JSON.stringify(request.json));
  const body = text === undefined ? new Uint8Array(0) : Buffer.from(text, 'utf8');
  const headers: Record<string, string> = {
    ...request.headers,
    ...(text === undefined ? {} : { 'content-type': 'application/json' }),
  };
  if (request.signer) {
    const nonce = sodium.to_hex(sodium.randombytes_buf(16));
    Object.assign(
      headers,
      signedRequestHeaders(
        {
          method: request.method,
          path: request.path,
          body,
          timestamp: request.now ?? Date.now(),
          nonce,
          // node:crypto: a batch body is megabytes, which libsodium's wasm hashes several times slower.
          bodySha256: hash('sha256', body, 'hex'),
          ...(request.device === undefined ? {} : { device: request.device }),
        },
        request.signer,
        sodium,
      ),
    );
  }
  let response: Response;
  try {
    response = await fetch(new URL(request.path, baseUrl), {
      method: request.method,
      headers,
      ...(text === undefined ? {} : { body }),
      signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new ServerUnreachable(`the server at ${baseUrl} is unreachable (${error instanceof Error ? error.message : 'network error'})`);
  }
  let answer: string;
  try {
    answer = await response.text();
  } catch (error) {
    throw new ServerUnreachable(
      `the connection to ${baseUrl} broke mid-response (${error instanceof Error ? error.message : 'network error'})`,
    );
  }
  let parsed: unknown = null;
  try {
    parsed = answer.length > 0 ? JSON.parse(answer) : null;
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed };
}

/** Throws ServerRefusal for any non-2xx answer, with the server's code when it sent one. */
export function expectOk(response: WireResponse): unknown {
  if (response.status >= 200 && response.status < 300) return response.body;
  const error = wireErrorSchema.safeParse(response.body);
  if (error.success) throw new ServerRefusal(response.status, error.data.error.code, error.data.error.message, error.data.error.evidence);
  throw new ServerRefusal(response.status, 'UNEXPECTED_RESPONSE', `the server answered HTTP ${response.status} without an error body`);
}

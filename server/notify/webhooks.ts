import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Storage, StorageQueries, WebhookDelivery, WebhookOutcome, WebhookTarget } from '../storage/storage';
import type { NotificationEvent, NotificationKind, Notifications } from './event';

/**
 * Webhooks (docs/operations.md "Webhooks"): the outbox that stores one delivery per webhook per
 * event inside the caller's transaction, and the dispatcher that sends them later, outside any
 * transaction, signed, with retries under the same delivery id.
 */

/** The `schema` field of every body; a change that breaks receivers gets a new one. */
export const WEBHOOK_SCHEMA = 'halfkey.webhook.v1';

const KINDS: ReadonlySet<NotificationKind> = new Set(['incident.opened', 'alarm.raised', 'incident.acknowledged', 'alarm.acknowledged']);

const KIND_TITLE: Readonly<Record<NotificationKind, string>> = {
  'incident.opened': 'incident opened',
  'alarm.raised': 'alarm raised',
  'incident.acknowledged': 'incident acknowledged',
  'alarm.acknowledged': 'alarm acknowledged',
};

/** The JSON body a receiver gets (docs/operations.md "The body"). */
export interface WebhookBody {
  readonly schema: typeof WEBHOOK_SCHEMA;
  /** Stable across retries: a receiver that saw it already drops the repeat. */
  readonly delivery: string;
  readonly event: NotificationKind;
  readonly subject: string;
  readonly device: string;
  readonly at: number;
  readonly time: string;
  /** The event's line as the server wrote it (control characters replaced). */
  readonly summary: string;
  readonly detail: Readonly<Record<string, string | number | boolean | null>>;
  /** The same line for Slack: `&`, `<` and `>` escaped, so a journal-supplied reason cannot mention @channel or hide a link. */
  readonly text: string;
}

const MAX_SUMMARY = 1000;
const MAX_DETAIL_KEYS = 50;
const MAX_DETAIL_TEXT = 500;

/** One printable line of at most `max` characters: control and formatting characters become spaces. */
function printable(text: string, max: number): string {
  const line = text.replace(/[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The body text for one delivery of an event: what every attempt sends, byte for byte. */
export function webhookBody(delivery: string, event: NotificationEvent): string {
  if (!KINDS.has(event.kind)) throw new Error(`unknown notification kind ${JSON.stringify(event.kind)}`);
  const summary = printable(event.text, MAX_SUMMARY);
  const detail: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(event.detail).slice(0, MAX_DETAIL_KEYS)) {
    if (typeof value === 'string') detail[printable(key, 64)] = printable(value, MAX_DETAIL_TEXT);
    else if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))
      detail[printable(key, 64)] = value;
  }
  const body: WebhookBody = {
    schema: WEBHOOK_SCHEMA,
    delivery,
    event: event.kind,
    subject: printable(event.subject, 200),
    device: printable(event.device, 200),
    at: event.at,
    time: new Date(event.at).toISOString(),
    summary,
    detail,
    text: `[Halfkey] ${KIND_TITLE[event.kind]}: ${slackEscape(summary)}`,
  };
  return JSON.stringify(body);
}

/** `sha256=<hex>`: HMAC-SHA256 over the exact body bytes with the webhook's secret. */
export function webhookSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A fresh webhook secret: 32 random bytes, base64url (43 characters). */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** How a webhook URL is shown and logged: origin + "/…", since a Slack incoming-webhook URL carries its secret in the path. */
export function redactedUrl(url: string): string {
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '(unparsable URL)';
  }
}

/** Checks a webhook URL; throws a message that never repeats the URL beyond its scheme or origin. */
export function checkWebhookUrl(text: string): string {
  if (text.length > 2048) throw new Error('the webhook URL must be at most 2048 characters');
  if (/[\s\p{Cc}\p{Cf}]/u.test(text)) throw new Error('the webhook URL must not contain spaces or control characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('the webhook URL is not a URL: give an http:// or https:// address, e.g. https://hooks.example.com/halfkey');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`the webhook URL must be http: or https:, not ${url.protocol.slice(0, 20)}`);
  if (url.hostname.length === 0) throw new Error('the webhook URL must name a host');
  if (url.username !== '' || url.password !== '')
    throw new Error(
      `the webhook URL must not carry a user name or password (${url.protocol}//…@${url.host}): use the secret to authenticate`,
    );
  return url.toString();
}

/**
 * The outbox: `enqueue` writes one pending delivery per active webhook, in the caller's
 * transaction, with the body frozen (delivery id included). Nothing touches the network here.
 */
export class WebhookOutbox implements Notifications {
  /** Called after each enqueue with a delivery (the dispatcher's nudge; it polls anyway). */
  onEnqueued: (() => void) | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  async enqueue(tx: StorageQueries, event: NotificationEvent): Promise<void> {
    const active = (await tx.listWebhooks()).filter((w) => w.disabledAt === null);
    if (active.length === 0) return;
    const createdAt = this.now();
    await tx.insertWebhookDeliveries(
      active.map((w) => {
        const id = randomUUID();
        return { id, webhookId: w.id, kind: event.kind, subject: event.subject, body: webhookBody(id, event), createdAt };
      }),
    );
    this.onEnqueued?.();
  }
}

export interface DispatcherOptions {
  readonly logger?: Logger | false;
  /** A POST that has not answered within this is abandoned and retried (default 5 s). */
  readonly timeoutMs?: number;
  /** Attempts before a delivery is given up as `failed` (default 10: about three hours with the default back-off). */
  readonly maxAttempts?: number;
  /** The first retry's delay; each next one doubles, up to maxDelayMs, then jittered down by up to half (default 30 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** How often the outbox is checked for due deliveries (default 2 s). */
  readonly pollMs?: number;
  /** Deliveries claimed and sent at once (default 10). */
  readonly batch?: number;
  /**
   * How long a claim holds a delivery against other processes (default timeoutMs × 2 + 30 s). A
   * claim outliving its process (killed mid-send) expires, and another process resends it under
   * the same delivery id. Server clocks must agree to well within this.
   */
  readonly leaseMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

type Attempt =
  { readonly ok: true; readonly status: number } | { readonly ok: false; readonly status: number | null; readonly error: string };

const USER_AGENT = 'Halfkey-Webhooks/1';

function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Why a POST failed, in words that never include the URL (its path may be a secret). */
function failureText(error: unknown, stopping: boolean): string {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'AbortError' || stopping) return stopping ? 'interrupted: the server was stopping' : 'aborted';
  const cause = (error as { cause?: { code?: unknown; name?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : typeof cause?.name === 'string' ? cause.name : null;
  return code === null ? 'the request failed' : `the request failed (${printable(code, 60)})`;
}

/**
 * Sends the outbox: claims due deliveries (a lease, so two processes never send one at once),
 * POSTs each with a timeout and no redirects, and records the outcome with back-off and jitter.
 */
export class WebhookDispatcher {
  readonly claimer = randomUUID();
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly storage: Storage,
    options: DispatcherOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxAttempts = options.maxAttempts ?? 10;
    this.baseDelayMs = options.baseDelayMs ?? 30_000;
    this.maxDelayMs = options.maxDelayMs ?? 3_600_000;
    this.pollMs = options.pollMs ?? 2_000;
    this.batch = options.batch ?? 10;
    this.leaseMs = options.leaseMs ?? this.timeoutMs * 2 + 30_000;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.logger = options.logger === false ? undefined : options.logger;
  }

  /** Starts polling; the first check runs at once. */
  start(): void {
    this.schedule(0);
  }

  /** Checks soon (an event was just enqueued; its transaction may still be committing). */
  kick(): void {
    this.schedule(20);
  }

  /** Stops polling, interrupts sends in flight (they are retried later) and waits for the outcomes to be recorded. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: sends every delivery due now, batch by batch; resolves when their outcomes are recorded. */
  async runOnce(): Promise<number> {
    let sent = 0;
    while (!this.stopping.signal.aborted) {
      const now = this.now();
      const claimed = await this.storage.queries.claimWebhookDeliveries(this.claimer, now, now + this.leaseMs, this.batch);
      if (claimed.length === 0) break;
      const targets = new Map((await this.storage.queries.webhookTargets()).map((t) => [t.id, t]));
      await Promise.all(claimed.map((d) => this.deliver(d, targets.get(d.webhookId))));
      sent += claimed.length;
      if (claimed.length < this.batch) break;
    }
    return sent;
  }

  private schedule(ms: number): void {
    if (this.stopping.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce().then(
      () => undefined,
      (error: unknown) => {
        // The database unreachable for a moment: the outbox keeps everything; try again at the next poll.
        if (!this.stopping.signal.aborted)
          this.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, 'webhook outbox check failed');
      },
    );
    await this.running;
    this.running = undefined;
    const again = this.again;
    this.again = false;
    this.schedule(again ? 0 : this.pollMs);
  }

  private async deliver(delivery: WebhookDelivery, target: WebhookTarget | undefined): Promise<void> {
    const log = { webhook: delivery.webhookId, delivery: delivery.id, event: delivery.kind, attempt: delivery.attempts };
    if (target === undefined) {
      await this.storage.queries.finishWebhookDelivery(delivery.id, this.claimer, {
        status: 'failed',
        httpStatus: null,
        error: 'the webhook was removed before delivery',
        nextAttemptAt: this.now(),
      });
      return;
    }
    const attempt = await this.post(target, delivery);
    const to = redactedUrl(target.url);
    let outcome: WebhookOutcome;
    if (attempt.ok) {
      outcome = { status: 'delivered', httpStatus: attempt.status, at: this.now() };
      this.logger?.info({ ...log, to, status: attempt.status }, 'webhook delivered');
    } else {
      const last = delivery.attempts >= this.maxAttempts;
      outcome = {
        status: last ? 'failed' : 'pending',
        httpStatus: attempt.status,
        error: attempt.error,
        nextAttemptAt: this.now() + (last ? 0 : this.backoff(delivery.attempts)),
      };
      this.logger?.warn(
        { ...log, to, status: attempt.status, error: attempt.error },
        last ? 'webhook delivery failed, no more retries' : 'webhook delivery failed, will retry',
      );
    }
    await this.storage.queries.finishWebhookDelivery(delivery.id, this.claimer, outcome);
  }

  /** Delay before the retry after attempt n: base × 2^(n-1), capped, then jittered down by up to half. */
  private backoff(attempt: number): number {
    const full = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
    return Math.round(full / 2 + (full / 2) * this.random());
  }

  private async post(target: WebhookTarget, delivery: WebhookDelivery): Promise<Attempt> {
    const body = Buffer.from(delivery.body, 'utf8');
    // A timer of our own, not AbortSignal.timeout combined by AbortSignal.any: Node 20 can collect
    // such a combined signal's timeout before it fires, and a hanging receiver would then hang the send.
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.timeoutMs);
    const onStop = (): void => abort.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: abort.signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'x-halfkey-signature': webhookSignature(target.secret, body),
          'x-halfkey-delivery': delivery.id,
          'x-halfkey-event': delivery.kind,
        },
      });
      // The answer's body is not needed; dropping it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      if (response.status >= 300 && response.status < 400) {
        const location = response.headers.get('location');
        let where: string | null = null;
        try {
          where = location === null ? null : new URL(location, target.url).origin;
        } catch {
          where = null;
        }
        const text =
          where === null || where === 'null'
            ? `redirected (HTTP ${response.status}), not followed`
            : `redirected to ${printable(where, 200)}, not followed`;
        return { ok: false, status: response.status, error: text };
      }
      return { ok: false, status: response.status, error: `HTTP ${response.status}` };
    } catch (error) {
      return {
        ok: false,
        status: null,
        error: timedOut ? `timed out after ${duration(this.timeoutMs)}` : failureText(error, this.stopping.signal.aborted),
      };
    } finally {
      clearTimeout(timer);
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }
}

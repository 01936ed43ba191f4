import type { StorageQueries } from '../storage/storage';

/**
 * What the server tells the outside world about (docs/operations.md "Webhooks"): a new incident,
 * a new alarm, and the acknowledgement of either. Raised by ingest, the silent-device sweep and
 * the reviewer routes; delivered by the webhook outbox (server/notify/webhooks.ts).
 */
export type NotificationKind = 'incident.opened' | 'alarm.raised' | 'incident.acknowledged' | 'alarm.acknowledged';

export interface NotificationEvent {
  readonly kind: NotificationKind;
  /** The incident id (64 hex) or the alarm id (decimal). */
  readonly subject: string;
  readonly device: string;
  /** When it happened, ms since the epoch (server clock). */
  readonly at: number;
  /** One line a person reads in a chat channel; never a secret (no passwords, codes, seeds or tokens). */
  readonly text: string;
  /** The facts behind it, JSON-safe and secret-free (type, account, reference, severity, seq, kind…). */
  readonly detail: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * Where events go. `enqueue` runs inside the transaction that creates the incident or alarm, so an
 * event is stored exactly when what it reports is (a transactional outbox): nothing lost on a
 * crash, nothing announced that was rolled back. Delivery happens later, outside any transaction.
 */
export interface Notifications {
  enqueue(tx: StorageQueries, event: NotificationEvent): Promise<void>;
}

/** No webhooks configured in this process (tests of other features). */
export const noNotifications: Notifications = { enqueue: async () => {} };

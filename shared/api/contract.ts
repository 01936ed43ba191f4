import type { z } from 'zod';
import { appChannels } from './channels/app';
import { breakGlassChannels } from './channels/break-glass';
import { custodyChannels } from './channels/custody';
import { journalChannels } from './channels/journal';
import { organisationChannels } from './channels/organisation';
import { policyChannels } from './channels/policy';
import { proposalChannels } from './channels/proposal';
import { reconcileChannels } from './channels/reconcile';
import { reviewChannels } from './channels/review';
import { syncChannels } from './channels/sync';
import { vaultChannels } from './channels/vault';

/**
 * The API contract: every channel the UI may call, defined once, with the zod schema of its
 * request and response. The router, both adapters and the preload are derived from this table.
 * Each domain keeps its channels in channels/<domain>.ts (`app:`, `vault:` with `custodian:`,
 * `custody:`, `organisation:` with the roster's role and organisation changes, `policy:`, `journal:`, `sync:`, `review:`, `reconcile:`, `break-glass:`); docs/architecture.md lists them.
 */
export const channels = {
  ...appChannels,
  ...journalChannels,
  ...vaultChannels,
  ...custodyChannels,
  ...proposalChannels,
  ...organisationChannels,
  ...policyChannels,
  ...syncChannels,
  ...reconcileChannels,
  ...reviewChannels,
  ...breakGlassChannels,
} as const;

export type Channel = keyof typeof channels;
export type RequestOf<C extends Channel> = z.input<(typeof channels)[C]['request']>;
export type ResponseOf<C extends Channel> = z.output<(typeof channels)[C]['response']>;

export const CHANNEL_NAMES = Object.keys(channels) as Channel[];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(channels, name);
}

/** The window.halfkey method name for a channel: `custodian:unlock` → `custodianUnlock`, `app:status` → `appStatus`. */
export function methodName(channel: Channel): string {
  return channel.replace(/[:.-]([a-z])/g, (_, c: string) => c.toUpperCase());
}

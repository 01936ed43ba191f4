import type { CommandRunner } from './cli-io';

/** One row per top-level command: its summary and its module, loaded only when it runs (so `journal verify` stays fast). */
export const COMMANDS: Readonly<Record<string, { readonly summary: string; readonly load: () => Promise<{ run: CommandRunner }> }>> = {
  journal: { summary: 'verify or export the signed journal', load: () => import('./journal') },
  account: { summary: 'add an account (account add …)', load: async () => (await import('./custody')).command('account') },
  half: {
    summary: 'set the password or MFA half of an account (half set …)',
    load: async () => (await import('./custody')).command('half'),
  },
  assign: { summary: 'assign a custody item to a custodian', load: async () => (await import('./custody')).command('assign') },
  checkout: {
    summary: 'check out a half and print the password or current code once',
    load: async () => (await import('./custody')).command('checkout'),
  },
  'break-glass': {
    summary: 'the emergency root sign-in by two custodians, offline (break-glass open|status|use-password|use-mfa|close|resume …)',
    load: () => import('./break-glass'),
  },
  checkin: { summary: 'check a checkout back in', load: async () => (await import('./custody')).command('checkin') },
  rotate: { summary: 'rotate the password or MFA half of an account', load: async () => (await import('./custody')).command('rotate') },
  init: {
    summary: 'create a vault and its first admin; prints the recovery key once',
    load: async () => (await import('./vault-admin')).command('init'),
  },
  custodian: {
    summary:
      'enrol, revoke, list custodians, propose a role or organisation change, or change your own passphrase (custodian add|revoke|list|role|organisation|passphrase …)',
    load: async () => (await import('./vault-admin')).command('custodian'),
  },
  organisation: {
    summary: 'list organisations, propose one, or name who holds a root inbox or recovery phone (organisation list|add|channel …)',
    load: async () => (await import('./organisation')).command('organisation'),
  },
  policy: {
    summary: 'show the vault policy or propose a change (rule 3, longest lease, idle lock)',
    load: async () => (await import('./organisation')).command('policy'),
  },
  proposal: {
    summary: 'list, approve or withdraw two-person changes (proposal list|approve|withdraw …)',
    load: () => import('./proposal'),
  },
  recover: {
    summary: 'restore access to a vault with its recovery key and two custodians (same as vault recover)',
    load: async () => (await import('./vault-admin')).command('recover'),
  },
  vault: {
    summary: 'restore access with the recovery key and two custodians present (vault recover …)',
    load: async () => (await import('./vault-admin')).command('vault'),
  },
  server: {
    summary: 'run the central journal server, issue enrolment tokens, revoke devices, grant reviewers, configure webhooks',
    load: () => import('../../server/cli'),
  },
  review: {
    summary: 'reviewer: the verified org-wide export, incidents and alarms, acknowledgements (review export|incidents|alarms|ack …)',
    load: () => import('./review'),
  },
  status: { summary: "show the vault, journal and sync state, as the app's status bar does", load: () => import('./status') },
  sync: { summary: 'upload the journal to the central server (enrol with --enroll URL --token-file F)', load: () => import('./sync') },
  reconcile: {
    summary: 'list root actions at AWS (CloudTrail) that no checkout in the journal explains',
    load: () => import('./reconcile'),
  },
};

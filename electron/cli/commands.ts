import { registerCommand } from './main';

// One line per top-level command. Modules are loaded only when their command runs.
registerCommand('journal', 'verify or export the signed journal', () => import('./journal'));
registerCommand('account', 'add an account (account add …)', async () => (await import('./custody')).command('account'));
registerCommand('half', 'set the password or MFA half of an account (half set …)', async () => (await import('./custody')).command('half'));
registerCommand('assign', 'assign a custody item to a custodian', async () => (await import('./custody')).command('assign'));
registerCommand('checkout', 'check out a half and print the password or current code once', async () => (await import('./custody')).command('checkout'));
registerCommand('checkin', 'check a checkout back in', async () => (await import('./custody')).command('checkin'));
registerCommand('rotate', 'rotate the password or MFA half of an account', async () => (await import('./custody')).command('rotate'));
registerCommand('init', 'create a vault and its first admin; prints the recovery key once', async () => (await import('./vault-admin')).command('init'));
registerCommand('custodian', 'enrol, revoke or list custodians (custodian add|revoke|list …)', async () => (await import('./vault-admin')).command('custodian'));
registerCommand('proposal', 'list, approve or withdraw two-person changes (proposal list|approve|withdraw …)', () => import('./proposal'));
registerCommand('recover', 'restore access to a vault with its recovery key', async () => (await import('./vault-admin')).command('recover'));
registerCommand('server', 'run the central journal server, issue enrolment tokens, revoke devices', () => import('../../server/cli'));
registerCommand('review', 'sign in to the central server as a reviewer and download its verified org-wide export', () => import('./review'));
registerCommand('status', 'show the vault, journal and sync state, as the app\'s status bar does', () => import('./status'));
registerCommand('sync', 'upload the journal to the central server (enrol with --enroll URL --token-file F)', () => import('./sync'));
registerCommand('reconcile', 'list root actions at AWS (CloudTrail) that no checkout in the journal explains', () => import('./reconcile'));

import { z } from 'zod';
import { proposalViewSchema } from './proposal';

// Vault and custodian channels: create/open/recover/lock a vault and manage custodians. Passphrases and
// the recovery key arrive in requests; the router never logs a payload, and neither may handlers.

const noControl = /^[^\p{Cc}]*$/u;
const custodianId = z.string().regex(/^[0-9a-f]{32}$/, 'a custodian id is 32 lowercase hex characters');
const label = z.string().trim().min(1, 'required').max(100).regex(noControl, 'control characters are not allowed');
/** Passphrase strength is checked by the vault (with a reason); the schema only bounds the size. */
const passphrase = z.string().min(1, 'required').max(1024);

export const custodianRoleSchema = z.enum(['admin', 'password-custodian', 'mfa-custodian', 'reviewer']);

/**
 * A custodian as the UI sees it: public identity only, plus whether they are unlocked in this
 * session and, for the one acting, when their presence window and idle lock end (the UI's countdowns).
 */
export const custodianViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  organisation: z.string(),
  role: custodianRoleSchema,
  signingKey: z.string(),
  boxKey: z.string(),
  revoked: z.boolean(),
  unlocked: z.boolean(),
  /** The acting custodian: the one unlocked now (one at a time). */
  actor: z.boolean(),
  /** Until when (ms since epoch) their last passphrase counts as presence; null when locked. */
  presentUntil: z.number().nullable(),
  /** When (ms since epoch) they lock if idle; null when locked. */
  idleLocksAt: z.number().nullable(),
});

const vaultIdentity = z.object({ vaultId: z.string(), keychainBackend: z.string() });

export const vaultChannels = {
  /** Creates the vault and its first admin; the response carries the recovery key, shown this once. */
  'vault:create': {
    request: z.object({ adminName: label, organisation: label, passphrase, separateOrganisations: z.boolean().default(false) }).strict(),
    response: vaultIdentity.extend({
      adminId: z.string(),
      recoveryKey: z.string(),
      recoveryQr: z.string().startsWith('data:image/png;base64,'),
    }),
  },
  'vault:open': { request: z.object({}).strict(), response: vaultIdentity },
  /**
   * Restores access where this machine's keychain has no device key for the vault. Using the
   * recovery key is a two-person step: two distinct custodians (not reviewers) present at this
   * workstation, each typing their own passphrase; the first signs the recovery, the second the
   * journal entry. With fewer, the refusal names who else is needed.
   */
  'vault:recover': {
    request: z
      .object({
        recoveryKey: z.string().min(1, 'required').max(200),
        custodians: z.array(z.object({ custodianId, passphrase }).strict()).max(2, 'two custodians take part, no more').default([]),
      })
      .strict(),
    response: vaultIdentity,
  },
  /** The custodians who may take part in a recovery (public fields only), readable while the vault is closed. */
  'vault:recovery-roster': {
    request: z.object({}).strict(),
    response: z.object({
      custodians: z.array(z.object({ id: z.string(), name: z.string(), organisation: z.string(), role: custodianRoleSchema })),
    }),
  },
  /** Locks every custodian (zeroing their keys); the vault stays open. */
  'vault:lock': { request: z.object({}).strict(), response: z.object({ locked: z.array(z.string()) }) },
  'custodian:list': { request: z.object({}).strict(), response: z.object({ custodians: z.array(custodianViewSchema) }) },
  /**
   * Enrols a custodian (`by` is an unlocked admin). The founding enrolment (the vault's second
   * custodian) applies at once and takes the newcomer's passphrase, typed by the newcomer; every
   * later one is a proposal without a passphrase: the newcomer sets theirs when a second custodian
   * approves it (proposal:approve).
   */
  'custodian:enrol': {
    request: z
      .object({ by: custodianId, name: label, organisation: label, role: custodianRoleSchema, passphrase: passphrase.optional() })
      .strict(),
    response: z.object({ custodian: custodianViewSchema.nullable(), proposal: proposalViewSchema.nullable() }),
  },
  /** Proposes revoking a custodian (`by` is an unlocked admin); applied when a second custodian approves. */
  'custodian:revoke': {
    request: z
      .object({
        by: custodianId,
        custodianId,
        reason: z.string().trim().min(1, 'required').max(500).regex(noControl, 'control characters are not allowed'),
      })
      .strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  /**
   * A custodian changes their own passphrase: the old one is required (nobody, an admin included,
   * can set someone else's), the new one meets the enrolment rules. Journaled, signed by them.
   */
  'custodian:change-passphrase': {
    request: z.object({ custodianId, oldPassphrase: passphrase, newPassphrase: passphrase }).strict(),
    response: z.object({ custodianId: z.string(), changed: z.literal(true) }),
  },
  'custodian:unlock': { request: z.object({ custodianId, passphrase }).strict(), response: custodianViewSchema },
  'custodian:lock': { request: z.object({ custodianId }).strict(), response: z.object({ locked: z.boolean() }) },
} as const;

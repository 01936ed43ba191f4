import { z } from 'zod';

// Vault and custodian channels: create/open/recover/lock a vault and manage custodians. Passphrases and
// the recovery key arrive in requests; the router never logs a payload, and neither may handlers.

const noControl = /^[^\p{Cc}]*$/u;
const custodianId = z.string().regex(/^[0-9a-f]{32}$/, 'a custodian id is 32 lowercase hex characters');
const label = z.string().trim().min(1, 'required').max(100).regex(noControl, 'control characters are not allowed');
/** Passphrase strength is checked by the vault (with a reason); the schema only bounds the size. */
const passphrase = z.string().min(1, 'required').max(1024);

export const custodianRoleSchema = z.enum(['admin', 'password-custodian', 'mfa-custodian', 'reviewer']);

/** A custodian as the UI sees it: public identity only, plus whether they are unlocked in this session. */
export const custodianViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  organisation: z.string(),
  role: custodianRoleSchema,
  signingKey: z.string(),
  boxKey: z.string(),
  revoked: z.boolean(),
  unlocked: z.boolean(),
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
  /** Restores access where this machine's keychain has no device key for the vault. */
  'vault:recover': { request: z.object({ recoveryKey: z.string().min(1, 'required').max(200) }).strict(), response: vaultIdentity },
  /** Locks every custodian (zeroing their keys); the vault stays open. */
  'vault:lock': { request: z.object({}).strict(), response: z.object({ locked: z.array(z.string()) }) },
  'custodian:list': { request: z.object({}).strict(), response: z.object({ custodians: z.array(custodianViewSchema) }) },
  /** Enrols a custodian; `by` is an unlocked admin. */
  'custodian:enrol': {
    request: z.object({ by: custodianId, name: label, organisation: label, role: custodianRoleSchema, passphrase }).strict(),
    response: custodianViewSchema,
  },
  /** Revokes a custodian (`by` is an unlocked admin); the last admin cannot be revoked. */
  'custodian:revoke': {
    request: z
      .object({
        by: custodianId,
        custodianId,
        reason: z.string().trim().min(1, 'required').max(500).regex(noControl, 'control characters are not allowed'),
      })
      .strict(),
    response: custodianViewSchema,
  },
  'custodian:unlock': { request: z.object({ custodianId, passphrase }).strict(), response: custodianViewSchema },
  'custodian:lock': { request: z.object({ custodianId }).strict(), response: z.object({ locked: z.boolean() }) },
} as const;

import { z } from 'zod';
import { POLICY_LIMITS } from '../../policy/vault-policy';
import { proposalViewSchema } from './proposal';

// Vault policy (docs/custody.md, "Vault policy"): rule 3 on or off, the longest lease and the idle
// lock. Changing it is a two-person change: an admin proposes, a second custodian approves.

const custodianId = z.string().regex(/^[0-9a-f]{32}$/, 'a custodian id is 32 lowercase hex characters');

export { POLICY_LIMITS };

export const vaultPolicySchema = z.object({
  /** Rule 3: the halves, and the MFA half against the recovery channels, with different organisations. */
  separateOrganisations: z.boolean(),
  /** The longest lease a checkout may ask for. */
  maxLeaseSeconds: z.number().int(),
  /** Idle time after which an unlocked custodian is locked. */
  idleLockSeconds: z.number().int(),
});
export type VaultPolicy = z.output<typeof vaultPolicySchema>;

const bounded = (name: keyof typeof POLICY_LIMITS) => z.number().int().min(POLICY_LIMITS[name].min).max(POLICY_LIMITS[name].max);

export const policyChannels = {
  'policy:show': { request: z.object({}).strict(), response: vaultPolicySchema },
  /** An admin proposes a new policy: the fields given change, the others stay; applied when a second custodian approves. */
  'policy:change': {
    request: z
      .object({
        by: custodianId,
        separateOrganisations: z.boolean().optional(),
        maxLeaseSeconds: bounded('maxLeaseSeconds').optional(),
        idleLockSeconds: bounded('idleLockSeconds').optional(),
      })
      .strict()
      .refine((r) => r.separateOrganisations !== undefined || r.maxLeaseSeconds !== undefined || r.idleLockSeconds !== undefined, {
        message: 'name at least one of separateOrganisations, maxLeaseSeconds, idleLockSeconds',
      }),
    response: z.object({ proposal: proposalViewSchema }),
  },
} as const;

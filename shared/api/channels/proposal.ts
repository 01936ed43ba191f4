import { z } from 'zod';

// Proposals: two-person changes (docs/custody.md, "Dual control"). A change is proposed through its
// domain channel (custodian:enrol, custodian:revoke, …) and takes effect only when a second,
// eligible custodian approves it here with their own passphrase. Passphrases are never logged.

const noControl = /^[^\p{Cc}]*$/u;
const custodianId = z.string().regex(/^[0-9a-f]{32}$/, 'a custodian id is 32 lowercase hex characters');
const proposalId = z.string().regex(/^[0-9a-f]{32}$/, 'a proposal id is 32 lowercase hex characters');
const passphrase = z.string().min(1, 'required').max(1024);

export const proposalStateSchema = z.enum(['open', 'applied', 'withdrawn', 'expired']);

/** A proposal as anyone may see it: what would change, who proposed it, until when it can be approved. */
export const proposalViewSchema = z.object({
  id: z.string(),
  type: z.string(),
  account: z.string().nullable(),
  change: z.record(z.string(), z.unknown()),
  /** One line a person can read ("Enrol Bob as mfa-custodian of Customer"). */
  summary: z.string(),
  proposer: z.string(),
  proposedAt: z.number(),
  expiresAt: z.number(),
  state: proposalStateSchema,
  decidedBy: z.string().nullable(),
  decidedAt: z.number().nullable(),
});

export const proposalChannels = {
  /** Proposals, open ones by default, newest first. */
  'proposal:list': {
    request: z.object({ state: proposalStateSchema.optional(), limit: z.number().int().min(1).max(500).default(100) }).strict(),
    response: z.object({ proposals: z.array(proposalViewSchema) }),
  },
  /**
   * A second custodian approves with their own passphrase (they become the acting custodian);
   * an enrolment also takes the newcomer's own passphrase, typed by the newcomer.
   */
  'proposal:approve': {
    request: z.object({ by: custodianId, proposalId, passphrase, newcomerPassphrase: passphrase.optional() }).strict(),
    response: z.object({ proposal: proposalViewSchema, seq: z.number() }),
  },
  /** The proposer withdraws an open proposal. */
  'proposal:withdraw': {
    request: z
      .object({
        by: custodianId,
        proposalId,
        reason: z.string().trim().min(1, 'required').max(500).regex(noControl, 'control characters are not allowed'),
      })
      .strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
} as const;

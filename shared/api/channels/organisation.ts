import { z } from 'zod';
import { proposalViewSchema } from './proposal';
import { custodianRoleSchema } from './vault';

// Organisations and the roster's two-person changes (docs/custody.md, "Organisations" and "Dual
// control"): organisations are records, compared by id; adding one, moving a custodian to another
// and changing a custodian's role are proposals that a second custodian approves with proposal:approve.

const noControl = /^[^\p{Cc}]*$/u;
const custodianId = z.string().regex(/^[0-9a-f]{32}$/, 'a custodian id is 32 lowercase hex characters');
const label = z.string().trim().min(1, 'required').max(100).regex(noControl, 'control characters are not allowed');

/** An organisation as anyone may see it, with the custodians who belong to it. */
export const organisationViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** approved: added by a two-person organisation.added; founding or migrated: adopted from a custodian's typed organisation. */
  origin: z.enum(['approved', 'founding', 'migrated']),
  addedAt: z.number().int(),
  /** Custodian ids, revoked ones included. */
  members: z.array(z.string()),
});
export type OrganisationView = z.output<typeof organisationViewSchema>;

export const organisationChannels = {
  'organisation:list': {
    request: z.object({}).strict(),
    response: z.object({ organisations: z.array(organisationViewSchema) }),
  },
  /** An admin proposes a new organisation by name (a name equal to an existing one, ignoring case and spacing, is refused). */
  'organisation:add': {
    request: z.object({ by: custodianId, name: label }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  /** An admin proposes a custodian's new role; never approved by that custodian. */
  'custodian:role-change': {
    request: z.object({ by: custodianId, custodianId, role: custodianRoleSchema }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  /** An admin proposes moving a custodian to another organisation (named by id or by name); never approved by that custodian. */
  'custodian:organisation-change': {
    request: z.object({ by: custodianId, custodianId, organisation: label }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
} as const;

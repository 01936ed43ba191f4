import { z } from 'zod';
import { proposalViewSchema } from './proposal';

// Custody channels: accounts, halves, assignments, checkouts, codes, rotation and seed exports.
// Every call names the acting custodian (`by`), who must be the unlocked actor; opening a half
// also needs them present (passphrase within the presence window). Changes of who holds what
// (assign, unassign, re-seal, seed export) are proposals that a second custodian approves with
// proposal:approve; their channels answer with the proposal.

const noControl = /^[^\p{Cc}]*$/u;

/** An AWS account id: exactly 12 digits. */
export const awsAccountIdSchema = z.string().regex(/^\d{12}$/, 'an AWS account id is exactly 12 digits');
const custodianId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'a custodian id is letters, digits, - and _');
const recordId = z.string().regex(/^[0-9a-f]{32}$/, 'an id is 32 lowercase hex characters');
const text = (max: number) => z.string().trim().max(max).regex(noControl, 'control characters are not allowed');
const requiredText = (max: number) => text(max).min(1, 'required');

/** password and mfa are the halves; email (root inbox) and phone are the recovery channels. */
export const custodyItemSchema = z.enum(['password', 'mfa', 'email', 'phone']);
export const halfItemSchema = z.enum(['password', 'mfa']);

/** What an admin enters to add an account; validated the same way in the app and the CLI. */
export const accountInputSchema = z
  .object({
    accountId: awsAccountIdSchema,
    alias: requiredText(100),
    rootEmail: z
      .string()
      .trim()
      .max(254)
      .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'the root e-mail must look like name@example.com')
      .transform((s) => s.toLowerCase()),
    organisation: requiredText(100),
    phone: z
      .string()
      .trim()
      .regex(/^\+[1-9]\d{6,14}$/, 'the phone number must be in international form, e.g. +441632960000')
      .nullable()
      .default(null),
    notes: text(2000).default(''),
    exclusiveCheckout: z.boolean().default(false),
    rotateAfterCheckout: z.boolean().default(false),
  })
  .strict();
export type AccountInput = z.output<typeof accountInputSchema>;

const halfStatusSchema = z.object({
  kind: z.enum(['password', 'totp', 'hardware-token']),
  generation: z.number().int(),
  setAt: z.number().int(),
  rotationDue: z.boolean(),
  /** The generation a rotation wrote that is waiting to be confirmed (the current one stays in use until then), or null. */
  pendingGeneration: z.number().int().nullable(),
  tokenSerial: z.string().nullable(),
  tokenLocation: z.string().nullable(),
});

/** An account as listed: its details, its halves' state and who is assigned what. No secrets. */
export const accountSummarySchema = z.object({
  accountId: z.string(),
  alias: z.string(),
  rootEmail: z.string(),
  organisation: z.string(),
  phone: z.string().nullable(),
  /** The organisation record (id) named as holding the root e-mail inbox, or null (custody:channel-organisation). */
  emailOrganisation: z.string().nullable(),
  /** The organisation record (id) named as holding the recovery phone, or null. */
  phoneOrganisation: z.string().nullable(),
  notes: z.string(),
  exclusiveCheckout: z.boolean(),
  rotateAfterCheckout: z.boolean(),
  password: halfStatusSchema.nullable(),
  mfa: halfStatusSchema.nullable(),
  rotationDue: z.boolean(),
  openCheckouts: z.number().int(),
  assignments: z.array(z.object({ item: custodyItemSchema, custodianId: z.string() })),
});
export type AccountSummary = z.output<typeof accountSummarySchema>;

/** The new secret of a half: a password, a TOTP seed (otpauth URI or base32), or a hardware token. */
export const halfSecretSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('password'), password: z.string().min(8).max(128) }).strict(),
  z.object({ kind: z.literal('totp'), seed: z.string().min(1).max(2048) }).strict(),
  z.object({ kind: z.literal('hardware-token'), serial: requiredText(100), location: requiredText(200) }).strict(),
]);
export type HalfSecret = z.output<typeof halfSecretSchema>;

export const passwordOptionsSchema = z
  .object({
    length: z.number().int().min(8).max(128).optional(),
    classes: z.object({ upper: z.boolean(), lower: z.boolean(), digits: z.boolean(), symbols: z.boolean() }).strict().optional(),
  })
  .strict();

const checkoutSchema = z.object({
  checkoutId: z.string(),
  accountId: z.string(),
  item: halfItemSchema,
  custodianId: z.string(),
  openedAt: z.number().int(),
  leaseUntil: z.number().int(),
});

const leaseSeconds = z
  .number()
  .int()
  .min(1)
  .max(7 * 24 * 3600);
const shownSeconds = z.number().int().min(1).max(600).default(30);

export const custodyChannels = {
  'custody:account-add': {
    request: accountInputSchema.extend({ by: custodianId }),
    response: accountSummarySchema,
  },
  'custody:account-list': {
    request: z
      .object({
        search: text(200).default(''),
        limit: z.number().int().min(1).max(10_000).default(200),
        offset: z.number().int().min(0).default(0),
      })
      .strict(),
    response: z.object({ total: z.number().int(), accounts: z.array(accountSummarySchema) }),
  },
  'custody:half-set': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, item: halfItemSchema, secret: halfSecretSchema }).strict(),
    response: z.object({ accountId: z.string(), item: halfItemSchema, kind: halfStatusSchema.shape.kind, generation: z.number().int() }),
  },
  /** Proposes giving an item to a custodian (an admin proposes; applied when a second custodian approves). */
  'custody:assign': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, item: custodyItemSchema, custodianId }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  /**
   * Proposes sealing a half's current secret to a custodian assigned it who has no copy yet; the
   * approver must hold the half and opens it to re-seal it.
   */
  'custody:reseal': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, item: halfItemSchema, custodianId }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  'custody:checkout': {
    request: z
      .object({
        by: custodianId,
        accountId: awsAccountIdSchema,
        item: halfItemSchema,
        reason: requiredText(500),
        ticket: text(100).optional(),
        leaseSeconds,
      })
      .strict(),
    response: checkoutSchema,
  },
  'custody:checkin': {
    request: z.object({ by: custodianId, checkoutId: recordId }).strict(),
    response: z.object({ checkoutId: z.string(), rotationDue: z.boolean() }),
  },
  'custody:reveal': {
    request: z.object({ by: custodianId, checkoutId: recordId, seconds: shownSeconds }).strict(),
    // The one response that carries a secret: the person asked to see it, until expiresAt.
    response: z.object({ password: z.string(), expiresAt: z.number().int() }),
  },
  'custody:copy': {
    request: z.object({ by: custodianId, checkoutId: recordId, seconds: shownSeconds }).strict(),
    response: z.object({ clearsAt: z.number().int() }),
  },
  'custody:totp-code': {
    request: z.object({ by: custodianId, checkoutId: recordId }).strict(),
    response: z.object({ code: z.string(), remainingMs: z.number().int(), period: z.number().int(), digits: z.number().int() }),
  },
  'custody:totp-enrolment-codes': {
    request: z.object({ by: custodianId, checkoutId: recordId }).strict(),
    response: z.object({ first: z.string(), second: z.string() }),
  },
  'custody:rotate': {
    request: z
      .object({
        by: custodianId,
        accountId: awsAccountIdSchema,
        item: halfItemSchema,
        password: passwordOptionsSchema.optional(),
        seed: z.string().min(1).max(2048).optional(),
        seconds: shownSeconds,
      })
      .strict(),
    // The rotation is pending until confirmed (custody:rotation-confirm); `generation` is the pending one.
    // For a password rotation the new password is returned once, to set it at the provider.
    response: z.object({
      accountId: z.string(),
      item: halfItemSchema,
      generation: z.number().int(),
      retiredGeneration: z.number().int(),
      password: z.string().nullable(),
      expiresAt: z.number().int().nullable(),
    }),
  },
  /** An MFA custodian asks to export the TOTP seed: a proposal that an admin or another MFA custodian approves (proposal:approve). */
  /** The custodian of the half, present, proposes to confirm a pending rotation (the provider took the new secret); a second custodian approves. */
  'custody:rotation-confirm': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, item: halfItemSchema }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  /** Drops a pending rotation (the provider did not take it); the current generation stays. */
  'custody:rotation-abandon': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, item: halfItemSchema }).strict(),
    response: z.object({ accountId: z.string(), item: halfItemSchema, generation: z.number().int() }),
  },
  'custody:seed-export-request': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, reason: requiredText(500) }).strict(),
    response: z.object({ requestId: z.string(), expiresAt: z.number().int(), proposal: proposalViewSchema }),
  },
  'custody:seed-export-collect': {
    request: z.object({ by: custodianId, requestId: recordId }).strict(),
    response: z.object({ otpauthUri: z.string(), base32: z.string() }),
  },
  'custody:token-checkout': {
    request: z
      .object({ by: custodianId, accountId: awsAccountIdSchema, reason: requiredText(500), ticket: text(100).optional(), leaseSeconds })
      .strict(),
    response: checkoutSchema.extend({ serial: z.string(), location: z.string() }),
  },
  'custody:token-checkin': {
    request: z.object({ by: custodianId, checkoutId: recordId, location: requiredText(200) }).strict(),
    response: z.object({ checkoutId: z.string(), location: z.string() }),
  },
  /**
   * Proposes naming the organisation that holds an account's root e-mail inbox or recovery phone
   * (null: none named). Under rule 3 it counts as holding that channel: the MFA half is then refused
   * to its custodians, and it is refused while it holds or has seen the MFA half.
   */
  'custody:channel-organisation': {
    request: z
      .object({
        by: custodianId,
        accountId: awsAccountIdSchema,
        item: z.enum(['email', 'phone']),
        organisationId: recordId.nullable(),
      })
      .strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  /** Proposes taking an item from a custodian (an admin proposes; applied when a second custodian approves). */
  'custody:unassign': {
    request: z.object({ by: custodianId, accountId: awsAccountIdSchema, item: custodyItemSchema, custodianId }).strict(),
    response: z.object({ proposal: proposalViewSchema }),
  },
  'custody:checkout-list': {
    request: z
      .object({
        accountId: awsAccountIdSchema.optional(),
        custodianId: custodianId.optional(),
        open: z.boolean().default(true),
        limit: z.number().int().min(1).max(1000).default(200),
      })
      .strict(),
    response: z.object({
      checkouts: z.array(
        checkoutSchema.extend({
          reason: z.string(),
          ticket: z.string().nullable(),
          hardwareToken: z.boolean(),
          closedAt: z.number().int().nullable(),
          closeKind: z.enum(['checked-in', 'expired']).nullable(),
        }),
      ),
    }),
  },
  /**
   * Live custody: per account with a half out, which halves are checked out, by whom, why and
   * until when; `bothOut` when both halves of one account are out at once (two people together
   * could sign in as root now). Accounts with nothing out are left out.
   */
  'custody:state': {
    request: z.object({}).strict(),
    response: z.object({
      accounts: z.array(
        z.object({
          accountId: z.string(),
          alias: z.string(),
          out: z.array(
            z.object({
              item: halfItemSchema,
              checkoutId: z.string(),
              custodianId: z.string(),
              custodianName: z.string(),
              reason: z.string(),
              ticket: z.string().nullable(),
              openedAt: z.number().int(),
              leaseUntil: z.number().int(),
              hardwareToken: z.boolean(),
            }),
          ),
          bothOut: z.boolean(),
        }),
      ),
    }),
  },
  'custody:seed-export-list': {
    request: z.object({ accountId: awsAccountIdSchema.optional() }).strict(),
    // Open requests (not expired, not collected): the approver approves `proposalId` with proposal:approve, the requester collects once approved.
    response: z.object({
      requests: z.array(
        z.object({
          requestId: z.string(),
          proposalId: z.string().nullable(),
          accountId: z.string(),
          requestedBy: z.string(),
          reason: z.string(),
          requestedAt: z.number().int(),
          expiresAt: z.number().int(),
          approvedBy: z.string().nullable(),
        }),
      ),
    }),
  },
} as const;

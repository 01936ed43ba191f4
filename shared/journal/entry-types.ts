import type { JsonObject } from './canonical';

/**
 * Entry types the journal itself gives meaning to (docs/journal-format.md, "Entry types").
 * Every other type is opaque to the verifier: it is hashed, chained and signed like any entry.
 */
export const ENTRY_TYPES = {
  genesis: 'vault.genesis',
  checkpoint: 'checkpoint',
  custodianEnrolled: 'custodian.enrolled',
  custodianRevoked: 'custodian.revoked',
  custodianRoleChanged: 'custodian.role-changed',
  deviceKeyRotated: 'device.key-rotated',
  sessionStarted: 'session.started',
  sessionResumed: 'session.resumed',
  sessionEnded: 'session.ended',
} as const;

/**
 * Entry types the sync client writes (docs/sync-protocol.md, "The client"). Opaque to the
 * verifier; the server raises a `LOG_INCONSISTENT` alarm when it ingests `serverLogInconsistent`.
 */
export const SYNC_ENTRY_TYPES = {
  serverKeyChanged: 'sync.server-key-changed',
  /** The server's signed log is not an extension of the one this device saw before: both heads and the reason. */
  serverLogInconsistent: 'sync.server-log-inconsistent',
} as const;

/**
 * Entry types of a break-glass session (docs/break-glass.md, docs/journal-format.md). Opaque to the
 * verifier; the server's review queue lists every `break-glass.*` entry (server/ingest.ts isBreakGlass).
 */
export const BREAK_GLASS_ENTRY_TYPES = {
  opened: 'break-glass.opened',
  passwordUsed: 'break-glass.password-used',
  mfaUsed: 'break-glass.mfa-used',
  closed: 'break-glass.closed',
  interrupted: 'break-glass.interrupted',
  resumed: 'break-glass.resumed',
  refused: 'break-glass.refused',
  rotated: 'break-glass.rotated',
} as const;

/** Domain-separation prefix signed before an entry hash (never reused for any other message). */
export const ENTRY_SIGNATURE_DOMAIN = 'halfkey/journal-entry/v1\n';

/** A checkpoint follows at most this many non-checkpoint entries in a row. */
export const CHECKPOINT_EVERY = 256;
/** While the app runs, an idle journal gets a heartbeat checkpoint this often (ms). */
export const HEARTBEAT_MS = 60_000;
/** Inside a session, no two consecutive entries may be further apart than this many heartbeats. */
export const HEARTBEAT_GRACE = 2;

/** Entry type syntax: dotted lowercase words (`checkout.opened`), or the single word `checkpoint`. */
export const ENTRY_TYPE_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
/** Lowercase hex of a 32-byte value (hashes, Ed25519 public keys). */
export const HEX32 = /^[0-9a-f]{64}$/;
/** Vault id: 16 random bytes as lowercase hex. */
export const VAULT_ID = /^[0-9a-f]{32}$/;

/** The data of a checkpoint entry at sequence number `size`. */
export function checkpointData(size: number, rootHex: string, heartbeat: boolean): JsonObject {
  return heartbeat ? { size, root: rootHex, heartbeat: true } : { size, root: rootHex };
}

/**
 * Characters no identifier, role or name may hold: control characters (PostgreSQL refuses U+0000
 * in text, and the rest rewrite logs and terminals) and unpaired surrogates (not text: stored as
 * U+FFFD, so the stored value would differ from the signed one).
 */
export const UNSAFE_TEXT = /[\p{Cc}\p{Cs}]/u;

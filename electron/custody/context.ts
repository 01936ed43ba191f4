import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import type { SignedEntry } from '../../shared/journal/entry';
import type { Sodium } from '../../shared/sodium';
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import type { Db } from '../base/database';
import type { AppendInput } from '../journal/store';
import type { CustodianRecord, UnlockedCustodian } from '../vault/custodians';

/**
 * The parts of an open vault the custody service uses. `Vault` satisfies it; naming
 * only these parts keeps custody's reach into the vault visible in one place.
 */
export interface CustodyVault {
  readonly db: Db;
  readonly journal: { append(input: AppendInput): SignedEntry };
  readonly device: {
    seal(plaintext: Uint8Array, aad: string): Uint8Array;
    open(ciphertext: Uint8Array, aad: string): Uint8Array;
  };
  readonly options: { readonly separateOrganisations: boolean };
  readonly custodians: {
    list(): CustodianRecord[];
    get(id: string): CustodianRecord | null;
    unlocked(id: string): UnlockedCustodian;
  };
}

/** What every custody operation runs against: the vault, the clock and libsodium. */
export interface CustodyContext {
  readonly vault: CustodyVault;
  readonly db: Db;
  readonly now: () => number;
  readonly sodium: Sodium;
}

/** Appends one journal entry, joining the caller's open transaction; co-signed by the actor when there is one. */
export function journal(ctx: CustodyContext, type: string, actor: UnlockedCustodian | null, account: string | null, data: JsonObject): void {
  ctx.vault.journal.append({ type, actor: actor === null ? null : { id: actor.id, signer: actor.signer }, account, data });
}

/** The acting custodian, who must be unlocked in this session and not revoked. */
export function actingCustodian(ctx: CustodyContext, id: string): UnlockedCustodian {
  const custodian = ctx.vault.custodians.unlocked(id);
  if (custodian.revoked) throw new HalfkeyError('NOT_PERMITTED', `Custodian ${id} has been revoked and can no longer act in this vault.`);
  return custodian;
}

/** A fresh random id: 16 bytes as 32 lowercase hex characters. */
export function newId(ctx: CustodyContext): string {
  return ctx.sodium.to_hex(ctx.sodium.randombytes_buf(16));
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement for this database, compiled once and reused (custody's hot paths run a dozen per call). */
export function statement(ctx: CustodyContext, sql: string): Database.Statement {
  let cache = statements.get(ctx.db);
  if (cache === undefined) {
    cache = new Map();
    statements.set(ctx.db, cache);
  }
  let prepared = cache.get(sql);
  if (prepared === undefined) {
    prepared = ctx.db.prepare(sql);
    cache.set(sql, prepared);
  }
  return prepared;
}

/**
 * Checks input against a channel's schema. The router does this for the app; the CLI and other
 * in-process callers reach the service directly, so the service checks again and names the field.
 */
export function validated<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : what;
  throw new HalfkeyError('INVALID_PAYLOAD', `The ${what} is not valid: ${field}: ${issue?.message ?? 'invalid'}.`, { field });
}

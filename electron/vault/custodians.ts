import { HalfkeyError } from '../../shared/api/result';
import { ed25519Signer, type EntrySigner } from '../../shared/journal/entry';
import type { Sodium } from '../../shared/sodium';
import type { Db } from '../base/database';
import type { JsonObject } from '../../shared/journal/canonical';
import { FOUNDING_CUSTODIANS } from '../../shared/journal/dual-control';
import type { JournalActor, JournalStore } from '../journal/store';
import type { DeviceKeys } from './device-key';
import { derivePassphraseKeyInWorker } from './kdf-worker';
import { boxWithKey, checkKdfFloor, checkPassphraseStrength, defaultKdfParams, openWithKey, type KdfParams } from './passphrase';

export type CustodianRole = 'admin' | 'password-custodian' | 'mfa-custodian' | 'reviewer';
export const CUSTODIAN_ROLES: readonly CustodianRole[] = ['admin', 'password-custodian', 'mfa-custodian', 'reviewer'];

/** A custodian as anyone may see it: identity, role and public keys (hex). */
export interface CustodianRecord {
  readonly id: string;
  readonly name: string;
  readonly organisation: string;
  readonly role: CustodianRole;
  readonly signingKey: string;
  readonly boxKey: string;
  readonly revoked: boolean;
}

/** A custodian whose private keys are in memory for this session, until locked (then zeroed). */
export interface UnlockedCustodian extends CustodianRecord {
  /** Ed25519, for co-signing journal entries. */
  readonly signer: EntrySigner;
  /** crypto_box_seal_open with the custodian's X25519 key. */
  openSealed(ciphertext: Uint8Array): Uint8Array;
}

/** A validated enrolment with its keys made and wrapped, not yet written (see CustodianDirectory.prepare). */
export interface PreparedCustodian {
  readonly record: CustodianRecord;
  readonly wrapped: Uint8Array;
  readonly params: KdfParams;
  readonly signSecret: Uint8Array;
}

export interface EnrolInput {
  readonly name: string;
  readonly organisation: string;
  readonly role: CustodianRole;
  readonly passphrase: string;
}

/** Default idle time after which an unlocked custodian is locked again. */
export const DEFAULT_IDLE_LOCK_MS = 5 * 60_000;
/** First back-off after a failed unlock; doubles per further failure up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 15 * 60_000;
/**
 * How long a passphrase counts as presence for opening a half (the ceiling: 60 s). A half
 * opens only for its own custodian within this window of their passphrase being entered.
 */
export const PRESENCE_WINDOW_MS = 60_000;

/** The back-off after the n-th consecutive failed unlock (n ≥ 1). */
export function backoffAfter(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 30));
}

export interface CustodianContext {
  readonly db: Db;
  readonly device: DeviceKeys;
  readonly journal: JournalStore;
  readonly sodium: Sodium;
  readonly now: () => number;
  readonly idleLockMs: number;
}

interface CustodianRow {
  id: string;
  name: string;
  organisation: string;
  role: string;
  signing_key: string;
  box_key: string;
  wrapped_keys: Uint8Array;
  kdf_alg: number;
  kdf_opslimit: number;
  kdf_memlimit: number;
  kdf_salt: Uint8Array;
  revoked: number;
  failed_unlocks: number;
  backoff_until: number;
}

interface Session {
  readonly custodian: UnlockedCustodian;
  readonly secrets: readonly Uint8Array[];
  lastUsed: number;
  /** Until when a half may be opened without the passphrase again (presence window). */
  presentUntil: number;
  locked: boolean;
}

/** Why every custodian was locked at once: by hand, the OS screen locked, the machine suspended. */
export type LockAllReason = 'manual' | 'screen-locked' | 'suspended';

const SIGN_SK = 64;
const BOX_SK = 32;
const noControl = /^[^\p{Cc}]*$/u;

function isRole(role: string): role is CustodianRole {
  return (CUSTODIAN_ROLES as readonly string[]).includes(role);
}

function recordOf(row: CustodianRow): CustodianRecord {
  if (!isRole(row.role)) throw new HalfkeyError('INTERNAL', `Custodian ${row.id} has an unknown role in the vault file.`);
  return {
    id: row.id,
    name: row.name,
    organisation: row.organisation,
    role: row.role,
    signingKey: row.signing_key,
    boxKey: row.box_key,
    revoked: row.revoked === 1,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function keysAad(id: string): string {
  return `custodian:${id}:keys`;
}

function checkText(field: 'name' | 'organisation', value: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > 100 || !noControl.test(trimmed)) {
    throw new HalfkeyError('INVALID_PAYLOAD', `The custodian ${field} must be 1 to 100 characters without control characters.`, { field });
  }
  return trimmed;
}

/**
 * The vault's custodians: enrolment (the founding pair alone, every later one approved by a second custodian), per-custodian unlock with Argon2id and a
 * persisted exponential back-off, and idle auto-lock that zeroes the unlocked keys.
 */
export class CustodianDirectory {
  private readonly sessions = new Map<string, Session>();
  private readonly inFlight = new Set<string>();
  private readonly sweeper: NodeJS.Timeout;
  /** The idle time in force: the session's until the vault policy sets it (setIdleLockMs). */
  private idleLockMs: number;

  constructor(private readonly ctx: CustodianContext) {
    this.idleLockMs = ctx.idleLockMs;
    this.sweeper = setInterval(() => this.sweepIdle(), Math.max(50, Math.min(ctx.idleLockMs, 30_000)));
    this.sweeper.unref();
  }

  /** Every custodian, revoked ones included, in enrolment order. */
  list(): CustodianRecord[] {
    return (this.ctx.db.prepare('SELECT * FROM custodians ORDER BY rowid').all() as CustodianRow[]).map(recordOf);
  }

  /** One custodian, or null. */
  get(id: string): CustodianRecord | null {
    const row = this.row(id);
    return row === undefined ? null : recordOf(row);
  }

  /**
   * The founding enrolment: while the vault has a single custodian (its first admin), that admin
   * may enrol the second one alone, journaled with `founding: true`. Every later enrolment is a
   * proposal that a second custodian approves (enrolmentChange in roster-changes.ts).
   */
  async enrolFounding(by: UnlockedCustodian, input: EnrolInput): Promise<CustodianRecord> {
    const checkAdmin = (): UnlockedCustodian => {
      const admin = this.unlocked(by.id);
      if (admin.role !== 'admin' || admin.revoked) {
        throw new HalfkeyError('NOT_PERMITTED', `Only an admin may enrol custodians; ${admin.name} is a ${admin.role}.`, {
          rule: 'admin-only',
        });
      }
      if (this.count() >= FOUNDING_CUSTODIANS) {
        throw new HalfkeyError(
          'NOT_PERMITTED',
          `Only the first ${FOUNDING_CUSTODIANS} custodians are enrolled alone; propose this enrolment and have a second custodian approve it.`,
          { rule: 'dual-control' },
        );
      }
      return admin;
    };
    checkAdmin();
    const prepared = await this.prepare(input);
    // The admin may have been locked (idle, or by hand) while the KDF ran: check again before writing.
    return this.commit(prepared, checkAdmin());
  }

  /** How many custodians the vault has enrolled, revoked ones included. */
  count(): number {
    return (this.ctx.db.prepare('SELECT count(*) AS n FROM custodians').get() as { n: number }).n;
  }

  /** Why a custodian cannot be revoked now, or null (unknown, already revoked, the last admin). */
  revocationProblem(id: string): HalfkeyError | null {
    const row = this.row(id);
    if (row === undefined) return new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`);
    if (row.revoked === 1) return new HalfkeyError('CONFLICT', `${row.name} is already revoked.`);
    const admins = this.list().filter((c) => c.role === 'admin' && !c.revoked);
    if (row.role === 'admin' && admins.length <= 1)
      return new HalfkeyError('NOT_PERMITTED', `${row.name} is the last admin; enrol another admin before revoking this one.`, {
        rule: 'last-admin',
      });
    return null;
  }

  /**
   * Revokes an approved revocation: they can no longer unlock and their session ends; `write`
   * journals the approved `custodian.revoked` in the same transaction.
   */
  applyRevocation(id: string, write: () => void): CustodianRecord {
    const problem = this.revocationProblem(id);
    if (problem !== null) throw problem;
    const row = this.row(id)!;
    this.ctx.db.transaction(() => {
      this.ctx.db.prepare('UPDATE custodians SET revoked = 1 WHERE id = ?').run(id);
      write();
      this.forget(id, null);
    })();
    return { ...recordOf(row), revoked: true };
  }

  /**
   * Applies an approved role change (custodian.role-changed): `write` journals it in the same
   * transaction. A session of theirs ends, since its copy of the record carries the old role.
   */
  applyRoleChange(id: string, role: CustodianRole, write: () => void): void {
    this.ctx.db.transaction(() => {
      this.ctx.db.prepare('UPDATE custodians SET role = ? WHERE id = ?').run(role, id);
      write();
    })();
    this.forget(id, null);
  }

  /**
   * Shows a custodian under their organisation record's name (custody keeps the record and the
   * link rule 3 compares); joins the caller's transaction, which journals the change.
   */
  setOrganisationName(id: string, name: string): void {
    this.ctx.db.prepare('UPDATE custodians SET organisation = ? WHERE id = ?').run(name, id);
  }

  /** The vault policy's idle lock (policy.changed), in force from now on for every session. */
  setIdleLockMs(ms: number): void {
    this.idleLockMs = ms;
  }

  /**
   * Validates an enrolment and makes the custodian's keys, wrapped under Argon2id(passphrase)
   * (derived in a worker) and sealed under the device key. Writes nothing.
   */
  async prepare(input: EnrolInput, id?: string): Promise<PreparedCustodian> {
    const { sodium, device } = this.ctx;
    if (!isRole(input.role))
      throw new HalfkeyError('INVALID_PAYLOAD', `The role must be one of ${CUSTODIAN_ROLES.join(', ')}.`, { field: 'role' });
    const name = checkText('name', input.name);
    const organisation = checkText('organisation', input.organisation);
    checkPassphraseStrength(input.passphrase, { name, organisation });
    const params = defaultKdfParams(sodium);
    const key = await derivePassphraseKeyInWorker(input.passphrase, params, sodium.crypto_secretbox_KEYBYTES);
    const custodianId = id ?? sodium.to_hex(sodium.randombytes_buf(16));
    const sign = sodium.crypto_sign_keypair();
    const box = sodium.crypto_box_keypair();
    const secrets = new Uint8Array(SIGN_SK + BOX_SK);
    secrets.set(sign.privateKey, 0);
    secrets.set(box.privateKey, SIGN_SK);
    try {
      return {
        record: {
          id: custodianId,
          name,
          organisation,
          role: input.role,
          signingKey: sodium.to_hex(sign.publicKey),
          boxKey: sodium.to_hex(box.publicKey),
          revoked: false,
        },
        wrapped: device.seal(boxWithKey(secrets, key, sodium), keysAad(custodianId)),
        params,
        // Kept only until commit: the first admin co-signs their own enrolment with it.
        signSecret: sign.privateKey,
      };
    } finally {
      for (const secret of [key, secrets, box.privateKey]) sodium.memzero(secret);
    }
  }

  /**
   * Writes a prepared custodian and its `custodian.enrolled` entry together (joining the caller's
   * transaction if one is open). Alone (`write` absent) it is a founding enrolment: by the first
   * admin of themselves (`by` null, co-signed with their new key) or of the second custodian.
   * With `write`, an approved enrolment: `write` journals it, co-signed by the newcomer's new key.
   * Zeroes the prepared secret either way.
   */
  commit(
    prepared: PreparedCustodian,
    by: UnlockedCustodian | null,
    write?: (data: JsonObject, newcomer: JournalActor) => void,
  ): CustodianRecord {
    const { sodium, db, journal } = this.ctx;
    const { record, wrapped, params } = prepared;
    try {
      const newcomer = { id: record.id, signer: ed25519Signer(prepared.signSecret, sodium) };
      const actor = by === null ? newcomer : { id: by.id, signer: by.signer };
      const data = {
        custodian: record.id,
        name: record.name,
        organisation: record.organisation,
        role: record.role,
        signingKey: record.signingKey,
        boxKey: record.boxKey,
      };
      db.transaction(() => {
        db.prepare(
          `INSERT INTO custodians (id, name, organisation, role, signing_key, box_key, wrapped_keys, kdf_alg, kdf_opslimit, kdf_memlimit, kdf_salt, enrolled_at, enrolled_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          record.id,
          record.name,
          record.organisation,
          record.role,
          record.signingKey,
          record.boxKey,
          wrapped,
          params.alg,
          params.opslimit,
          params.memlimit,
          params.salt,
          this.ctx.now(),
          by?.id ?? null,
        );
        if (write !== undefined) write(data, newcomer);
        else journal.append({ type: 'custodian.enrolled', actor, data: { ...data, founding: true } });
      })();
    } finally {
      sodium.memzero(prepared.signSecret);
    }
    return record;
  }

  /**
   * Unlocks a custodian with their passphrase (Argon2id in a worker). Wrong passphrases back off
   * exponentially, persisted in the row; one attempt per custodian at a time, so parallel guesses
   * cannot slip past the back-off while a derivation runs.
   */
  async unlock(id: string, passphrase: string): Promise<UnlockedCustodian> {
    return this.oneAtATime(id, () => this.attemptUnlock(id, passphrase));
  }

  /**
   * A custodian changes their own passphrase: the old one is required (and counts against the
   * back-off like an unlock, so this is no way around it), the new one must pass the enrolment
   * rules. Their keys are re-wrapped under Argon2id(new passphrase) with a fresh salt; the keys
   * themselves stay, so every half sealed to their box key still opens and every signature they
   * made still verifies. The new row and `custodian.passphrase-changed` (signed by the custodian,
   * no secret in it) commit in one transaction: a crash leaves the old passphrase working.
   */
  async changePassphrase(id: string, oldPassphrase: string, newPassphrase: string): Promise<CustodianRecord> {
    const { sodium, db, device, journal } = this.ctx;
    const before = this.row(id);
    if (before === undefined) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`);
    if (before.revoked === 1)
      throw new HalfkeyError('NOT_PERMITTED', `Custodian ${before.name} has been revoked and can no longer change a passphrase.`);
    // The cheap checks first: a weak or unchanged passphrase costs no Argon2id run and no guess.
    checkPassphraseStrength(newPassphrase, before);
    if (newPassphrase === oldPassphrase)
      throw new HalfkeyError('INVALID_PAYLOAD', 'The new passphrase is the same as the old one; choose a different one.', {
        field: 'newPassphrase',
      });
    return this.oneAtATime(id, async () => {
      const { row, secrets } = await this.openKeys(id, oldPassphrase);
      const params = defaultKdfParams(sodium);
      let key: Uint8Array | null = null;
      let signSk: Uint8Array | null = null;
      try {
        key = await derivePassphraseKeyInWorker(newPassphrase, params, sodium.crypto_secretbox_KEYBYTES);
        const wrapped = device.seal(boxWithKey(secrets, key, sodium), keysAad(id));
        signSk = secrets.slice(0, SIGN_SK);
        const signer = ed25519Signer(signSk, sodium);
        db.transaction(() => {
          // The row read before the KDF must still be the row written over (one writer, one change per custodian at a time).
          const current = this.row(id);
          if (current === undefined || current.revoked === 1 || !sameBytes(current.wrapped_keys, row.wrapped_keys))
            throw new HalfkeyError('CONFLICT', `${row.name}'s keys changed while the new passphrase was prepared; nothing was changed.`);
          db.prepare(
            'UPDATE custodians SET wrapped_keys = ?, kdf_alg = ?, kdf_opslimit = ?, kdf_memlimit = ?, kdf_salt = ?, failed_unlocks = 0, backoff_until = 0 WHERE id = ?',
          ).run(wrapped, params.alg, params.opslimit, params.memlimit, params.salt, id);
          journal.append({ type: 'custodian.passphrase-changed', actor: { id, signer }, data: { custodian: id } });
        })();
        return recordOf(row);
      } finally {
        for (const secret of [secrets, key, signSk]) if (secret !== null) sodium.memzero(secret);
      }
    });
  }

  /**
   * A custodian proves presence with their passphrase for one statement, without becoming the
   * actor (recovery, where two custodians sign at one workstation). Wrong passphrases back off and
   * are journaled as for an unlock. `use` gets a signer that works only while it runs; the keys
   * are zeroed when it returns.
   */
  async attest<T>(id: string, passphrase: string, use: (custodian: CustodianRecord, signer: EntrySigner) => T | Promise<T>): Promise<T> {
    return this.oneAtATime(id, async () => {
      const { row, secrets } = await this.openKeys(id, passphrase);
      const { sodium, db } = this.ctx;
      const signSk = secrets.slice(0, SIGN_SK);
      sodium.memzero(secrets);
      let live = true;
      const inner = ed25519Signer(signSk, sodium);
      const signer: EntrySigner = {
        publicKey: inner.publicKey,
        sign: (message) => {
          if (!live) throw new HalfkeyError('CUSTODIAN_LOCKED', `${row.name}'s passphrase counted for one step only; enter it again.`);
          return inner.sign(message);
        },
      };
      try {
        db.prepare('UPDATE custodians SET failed_unlocks = 0, backoff_until = 0 WHERE id = ?').run(id);
        return await use(recordOf(row), signer);
      } finally {
        live = false;
        sodium.memzero(signSk);
      }
    });
  }

  /** One passphrase check per custodian at a time, so parallel guesses cannot slip past the back-off while a derivation runs. */
  private async oneAtATime<T>(id: string, run: () => Promise<T>): Promise<T> {
    if (this.inFlight.has(id))
      throw new HalfkeyError('BACKOFF', 'A passphrase check of this custodian is already running; wait for it to finish.', {
        retryAfterMs: 1000,
      });
    this.inFlight.add(id);
    try {
      return await run();
    } finally {
      this.inFlight.delete(id);
    }
  }

  /**
   * Opens a custodian's wrapped keys with a passphrase (Argon2id in a worker): refuses unknown and
   * revoked custodians and waits out the back-off; a wrong passphrase doubles it, persisted in the
   * row and journaled (`custodian.unlock-failed`). Returns the row and the secret keys (the caller zeroes them).
   */
  private async openKeys(id: string, passphrase: string): Promise<{ row: CustodianRow; secrets: Uint8Array }> {
    const { sodium, db, device, journal, now } = this.ctx;
    const row = this.row(id);
    if (row === undefined) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`);
    if (row.revoked === 1) throw new HalfkeyError('NOT_PERMITTED', `Custodian ${row.name} has been revoked and can no longer unlock.`);
    const waitMs = row.backoff_until - now();
    if (waitMs > 0) {
      throw new HalfkeyError('BACKOFF', `Too many wrong passphrases for ${row.name}; try again in ${Math.ceil(waitMs / 1000)} s.`, {
        retryAfterMs: waitMs,
        failures: row.failed_unlocks,
      });
    }
    const params: KdfParams = { alg: row.kdf_alg, opslimit: row.kdf_opslimit, memlimit: row.kdf_memlimit, salt: row.kdf_salt };
    checkKdfFloor(params, sodium);
    // The device seal is checked first, so a tampered row fails before any Argon2id work.
    const boxed = device.open(row.wrapped_keys, keysAad(id));
    const key = await derivePassphraseKeyInWorker(passphrase, params, sodium.crypto_secretbox_KEYBYTES);
    const secrets = openWithKey(boxed, key, sodium);
    sodium.memzero(key);
    if (secrets === null) {
      let failures = 0;
      let backoffMs = 0;
      db.transaction(() => {
        failures = (this.row(id)?.failed_unlocks ?? row.failed_unlocks) + 1;
        backoffMs = backoffAfter(failures);
        db.prepare('UPDATE custodians SET failed_unlocks = ?, backoff_until = ? WHERE id = ?').run(failures, now() + backoffMs, id);
        journal.append({ type: 'custodian.unlock-failed', data: { custodian: id, failures, backoffMs } });
      })();
      throw new HalfkeyError(
        'BAD_PASSPHRASE',
        `Wrong passphrase for ${row.name}; the next attempt is possible in ${Math.ceil(backoffMs / 1000)} s.`,
        { retryAfterMs: backoffMs, failures },
      );
    }
    return { row, secrets };
  }

  private async attemptUnlock(id: string, passphrase: string): Promise<UnlockedCustodian> {
    const { sodium, db, journal } = this.ctx;
    const { row, secrets } = await this.openKeys(id, passphrase);
    this.forget(id, null);
    // One actor at a time: whoever unlocks becomes the actor and every other custodian is locked,
    // so a workstation where others unlocked earlier never lets one person act as them.
    for (const other of [...this.sessions.keys()]) if (other !== id) this.forget(other, 'switched');
    const signSk = secrets.slice(0, SIGN_SK);
    const boxSk = secrets.slice(SIGN_SK);
    sodium.memzero(secrets);
    const session = this.session(recordOf(row), signSk, boxSk);
    db.transaction(() => {
      db.prepare('UPDATE custodians SET failed_unlocks = 0, backoff_until = 0 WHERE id = ?').run(id);
      journal.append({
        type: 'custodian.unlocked',
        actor: { id, signer: session.custodian.signer },
        data: { custodian: id, failuresBefore: row.failed_unlocks },
      });
    })();
    this.sessions.set(id, session);
    return session.custodian;
  }

  /** The unlocked custodian, refreshing their idle timer; CUSTODIAN_LOCKED if locked or idle too long. */
  unlocked(id: string): UnlockedCustodian {
    const session = this.sessions.get(id);
    if (session === undefined) {
      const row = this.row(id);
      if (row === undefined) throw new HalfkeyError('NOT_FOUND', `There is no custodian ${id} in this vault.`);
      throw new HalfkeyError('CUSTODIAN_LOCKED', `${row.name} is locked; unlock with their passphrase first.`, { custodian: id });
    }
    if (this.ctx.now() - session.lastUsed >= this.idleLockMs) {
      this.forget(id, 'idle');
      throw new HalfkeyError(
        'CUSTODIAN_LOCKED',
        `${session.custodian.name} was locked after ${Math.round(this.idleLockMs / 1000)} s idle; unlock again.`,
        { custodian: id },
      );
    }
    session.lastUsed = this.ctx.now();
    return session.custodian;
  }

  /**
   * The unlocked custodian, present: their passphrase was entered within PRESENCE_WINDOW_MS.
   * Opening a half (reveal, copy, codes, setting or rotating a secret) asks for this.
   */
  present(id: string): UnlockedCustodian {
    const custodian = this.unlocked(id);
    const session = this.sessions.get(id)!;
    if (this.ctx.now() > session.presentUntil) {
      throw new HalfkeyError(
        'PRESENCE_REQUIRED',
        `${custodian.name} must enter their passphrase again to open a half or sign a change (it counts for ${PRESENCE_WINDOW_MS / 1000} s).`,
        { custodian: id },
      );
    }
    return custodian;
  }

  /** The acting custodian's id (the one unlocked), or null. */
  actor(): string | null {
    const [id] = this.unlockedIds();
    return id ?? null;
  }

  /** When the actor's presence window and idle lock end (ms since epoch), for the countdowns the UI shows. */
  timers(id: string): { readonly presentUntil: number; readonly idleLocksAt: number } | null {
    this.sweepIdle();
    const session = this.sessions.get(id);
    return session === undefined ? null : { presentUntil: session.presentUntil, idleLocksAt: session.lastUsed + this.idleLockMs };
  }

  /** Ids of the custodians unlocked right now (at most one: the actor); one idle past the limit is locked first. */
  unlockedIds(): string[] {
    this.sweepIdle();
    return [...this.sessions.keys()];
  }

  /** Locks one custodian (zeroing their keys); journaled if they were unlocked. */
  lock(id: string): void {
    this.forget(id, 'manual');
  }

  /** Locks every unlocked custodian (by hand, or because the OS screen locked or the machine suspended). */
  lockAll(reason: LockAllReason = 'manual'): void {
    for (const id of [...this.sessions.keys()]) this.forget(id, reason);
  }

  /** Stops the idle sweeper and zeroes every unlocked key without journaling (the vault is closing). */
  close(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.forget(id, null);
  }

  private sweepIdle(): void {
    const now = this.ctx.now();
    for (const [id, session] of [...this.sessions]) {
      if (now - session.lastUsed >= this.idleLockMs) this.forget(id, 'idle');
    }
  }

  /** Removes a session and zeroes its keys; journals `custodian.locked` when a reason is given. */
  private forget(id: string, reason: LockAllReason | 'idle' | 'switched' | null): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    session.locked = true;
    for (const secret of session.secrets) this.ctx.sodium.memzero(secret);
    if (reason !== null) this.ctx.journal.append({ type: 'custodian.locked', data: { custodian: id, reason } });
  }

  private session(record: CustodianRecord, signSk: Uint8Array, boxSk: Uint8Array): Session {
    const { sodium } = this.ctx;
    const boxPk = sodium.from_hex(record.boxKey);
    const signer = ed25519Signer(signSk, sodium);
    const session: Session = {
      secrets: [signSk, boxSk],
      lastUsed: this.ctx.now(),
      presentUntil: this.ctx.now() + PRESENCE_WINDOW_MS,
      locked: false,
      custodian: {
        ...record,
        signer: {
          publicKey: signer.publicKey,
          sign: (message) => {
            live();
            return signer.sign(message);
          },
        },
        openSealed: (ciphertext) => {
          live();
          try {
            return sodium.crypto_box_seal_open(ciphertext, boxPk, boxSk);
          } catch {
            throw new HalfkeyError(
              'NOT_PERMITTED',
              `This sealed item was not sealed to ${record.name}; only its assigned custodian can open it.`,
            );
          }
        },
      },
    };
    const live = (): void => {
      if (session.locked)
        throw new HalfkeyError('CUSTODIAN_LOCKED', `${record.name} is locked; unlock with their passphrase first.`, {
          custodian: record.id,
        });
    };
    return session;
  }

  private row(id: string): CustodianRow | undefined {
    return this.ctx.db.prepare('SELECT * FROM custodians WHERE id = ?').get(id) as CustodianRow | undefined;
  }
}

/**
 * What the journal says about custody over time, per AWS account id: the window of each
 * checkout of each half, break-glass sessions, password rotations and MFA changes. Built from
 * verified journal entries (a device bundle or the server's org-wide export, whose entries of
 * several devices interleave), so it reads only the entry types docs/custody.md lists and
 * ignores every other type.
 */

/** Break-glass sessions are not written yet; these are the type names they will carry (with `data.account`). */
export const BREAK_GLASS_TYPES = { opened: 'break-glass.opened', closed: 'break-glass.closed' } as const;

/** Entry types that start a pending password rotation: the rotation exists now, the second name is the two-phase one being added. */
export const PASSWORD_ROTATION_TYPES: readonly string[] = ['half.rotated', 'rotation.pending'];
/** Entry types by which custody knows of an MFA device change at AWS (with `data.item == "mfa"`, except enrolment codes). */
export const MFA_CHANGE_TYPES: readonly string[] = ['half.set', 'half.rotated', 'rotation.pending'];

export type Half = 'password' | 'mfa';

/** Where an entry sits: vault, device and seq identify it in either journal format. */
export interface EntryPlace {
  readonly vault: string;
  readonly device: string;
  readonly seq: number;
}

export interface CheckoutWindow extends EntryPlace {
  readonly account: string;
  readonly item: Half;
  readonly checkout: string;
  readonly custodian: string | null;
  readonly reason: string;
  readonly ticket: string | null;
  readonly hardwareToken: boolean;
  readonly openedAt: number;
  /** Check-in time; for an expired lease the lease end; for a checkout still open, its lease end. */
  readonly endedAt: number;
  readonly ended: 'checked-in' | 'lease-expired' | 'open';
}

export interface BreakGlassSession extends EntryPlace {
  readonly account: string;
  readonly actor: string | null;
  readonly reason: string;
  readonly openedAt: number;
  /** The close; a session never closed runs to the journal's last entry. */
  readonly endedAt: number;
  readonly ended: 'closed' | 'open';
}

/** A rotation or MFA change journaled in custody, at the entry's time. */
export interface CustodyChange extends EntryPlace {
  readonly account: string;
  readonly type: string;
  readonly time: number;
  readonly actor: string | null;
}

export interface CustodyTimeline {
  /** Every AWS account the journal holds (added, or named by a custody entry), with its alias when known. */
  readonly accounts: ReadonlyMap<string, { readonly alias: string | null }>;
  /** Custodian names by id, from custodian.enrolled. */
  readonly custodians: ReadonlyMap<string, string>;
  /** Sorted by opening time. */
  readonly checkouts: readonly CheckoutWindow[];
  readonly breakGlass: readonly BreakGlassSession[];
  readonly passwordRotations: readonly CustodyChange[];
  readonly mfaChanges: readonly CustodyChange[];
  readonly entries: number;
  /** The latest entry time, or null for an empty journal. */
  readonly end: number | null;
}

type Data = Readonly<Record<string, unknown>>;
interface Entry extends EntryPlace {
  readonly time: number;
  readonly type: string;
  readonly actor: string | null;
  readonly data: Data;
}

const ACCOUNT_ID = /^\d{12}$/;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const half = (v: unknown): Half | null => (v === 'password' || v === 'mfa' ? v : null);

function entryOf(value: unknown): Entry | null {
  if (typeof value !== 'object' || value === null) return null;
  const e = value as Record<string, unknown>;
  const data = e.data;
  if (
    typeof e.type !== 'string' ||
    typeof e.vault !== 'string' ||
    typeof e.device !== 'string' ||
    !Number.isSafeInteger(e.seq) ||
    num(e.time) === null
  )
    return null;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  return {
    vault: e.vault,
    device: e.device,
    seq: e.seq as number,
    time: e.time as number,
    type: e.type,
    actor: str(e.actor),
    data: data as Data,
  };
}

interface Opened {
  readonly entry: Entry;
  readonly account: string;
  readonly item: Half;
  readonly leaseUntil: number | null;
}

/** Builds the timeline from entries pushed in file order (verify the journal first: this trusts what it reads). */
export class CustodyTimelineBuilder {
  private readonly accounts = new Map<string, { alias: string | null }>();
  private readonly custodians = new Map<string, string>();
  private readonly opened = new Map<string, Opened>();
  private readonly closed = new Map<string, { time: number; kind: 'checked-in' | 'lease-expired'; leaseUntil: number | null }>();
  private readonly openSessions = new Map<string, Entry[]>();
  private readonly sessions: (Omit<BreakGlassSession, 'endedAt' | 'ended'> & { endedAt: number | null })[] = [];
  private readonly rotations: CustodyChange[] = [];
  private readonly mfa: CustodyChange[] = [];
  private entries = 0;
  private end: number | null = null;

  push(value: unknown): void {
    const e = entryOf(value);
    if (e === null) return;
    this.entries += 1;
    if (this.end === null || e.time > this.end) this.end = e.time;
    const d = e.data;
    const account = str(d.account);
    if (e.type === 'custodian.enrolled') {
      const id = str(d.custodian);
      if (id !== null) this.custodians.set(id, str(d.name) ?? id);
      return;
    }
    // Only AWS account ids (12 digits) can meet a CloudTrail record.
    if (account === null || !ACCOUNT_ID.test(account)) return;
    const known = this.accounts.get(account);
    if (e.type === 'account.added') this.accounts.set(account, { alias: str(d.alias) });
    const change = (): CustodyChange => ({
      vault: e.vault,
      device: e.device,
      seq: e.seq,
      account,
      type: e.type,
      time: e.time,
      actor: e.actor,
    });
    const key = `${e.vault} ${str(d.checkout) ?? ''}`;
    switch (e.type) {
      case 'checkout.opened': {
        const item = half(d.item);
        if (item !== null && str(d.checkout) !== null) this.opened.set(key, { entry: e, account, item, leaseUntil: num(d.leaseUntil) });
        break;
      }
      case 'checkout.closed':
        this.closed.set(key, { time: e.time, kind: 'checked-in', leaseUntil: null });
        break;
      case 'lease.expired':
        this.closed.set(key, { time: e.time, kind: 'lease-expired', leaseUntil: num(d.leaseUntil) });
        break;
      case BREAK_GLASS_TYPES.opened: {
        const slot = this.sessionKey(e, account);
        this.openSessions.set(slot, [...(this.openSessions.get(slot) ?? []), e]);
        this.sessions.push({
          vault: e.vault,
          device: e.device,
          seq: e.seq,
          account,
          actor: e.actor,
          reason: str(d.reason) ?? '',
          openedAt: e.time,
          endedAt: null,
        });
        break;
      }
      case BREAK_GLASS_TYPES.closed: {
        const slot = this.sessionKey(e, account);
        const open = this.openSessions.get(slot)?.shift();
        const session = open && this.sessions.find((s) => s.vault === open.vault && s.device === open.device && s.seq === open.seq);
        if (session) session.endedAt = e.time;
        break;
      }
      case 'totp.code-shown':
        // Enrolment codes are shown to register a virtual MFA device at AWS.
        if (d.enrolment === true) this.mfa.push(change());
        break;
      default:
        break;
    }
    if (PASSWORD_ROTATION_TYPES.includes(e.type) && d.item === 'password') this.rotations.push(change());
    if (MFA_CHANGE_TYPES.includes(e.type) && d.item === 'mfa') this.mfa.push(change());
    if (known === undefined && !this.accounts.has(account)) this.accounts.set(account, { alias: null });
  }

  /** A session pairs its close by `data.session` when it carries one, else by vault and account, first opened first closed. */
  private sessionKey(e: Entry, account: string): string {
    const session = str(e.data.session);
    return session === null ? `${e.vault} account ${account}` : `${e.vault} session ${session}`;
  }

  finish(): CustodyTimeline {
    const end = this.end ?? 0;
    const checkouts: CheckoutWindow[] = [];
    for (const [key, o] of this.opened) {
      const close = this.closed.get(key);
      const e = o.entry;
      const d = e.data;
      let endedAt: number;
      let ended: CheckoutWindow['ended'];
      if (close === undefined) {
        // Still open when the journal was exported: usable until its lease ends.
        endedAt = o.leaseUntil ?? end;
        ended = 'open';
      } else if (close.kind === 'lease-expired') {
        // The sweep may run long after the lease ran out (the app was closed): the lease end is when use stopped.
        const lease = close.leaseUntil ?? o.leaseUntil;
        endedAt = lease === null ? close.time : Math.min(close.time, lease);
        ended = 'lease-expired';
      } else {
        endedAt = close.time;
        ended = 'checked-in';
      }
      checkouts.push({
        vault: e.vault,
        device: e.device,
        seq: e.seq,
        account: o.account,
        item: o.item,
        checkout: str(d.checkout) ?? '',
        custodian: e.actor,
        reason: str(d.reason) ?? '',
        ticket: str(d.ticket),
        hardwareToken: typeof d.tokenSerial === 'string',
        openedAt: e.time,
        endedAt: Math.max(endedAt, e.time),
        ended,
      });
    }
    checkouts.sort((a, b) => a.openedAt - b.openedAt || a.seq - b.seq);
    const breakGlass = this.sessions.map((s): BreakGlassSession => ({
      ...s,
      endedAt: s.endedAt ?? Math.max(end, s.openedAt),
      ended: s.endedAt === null ? 'open' : 'closed',
    }));
    const byTime = (a: CustodyChange, b: CustodyChange): number => a.time - b.time || a.seq - b.seq;
    return {
      accounts: this.accounts,
      custodians: this.custodians,
      checkouts,
      breakGlass,
      passwordRotations: [...this.rotations].sort(byTime),
      mfaChanges: [...this.mfa].sort(byTime),
      entries: this.entries,
      end: this.end,
    };
  }
}

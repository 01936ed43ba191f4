import { bytesToHex, hexToBytes } from './hex';

/**
 * Anchors for a device bundle (docs/journal-format.md section 10.4): facts from outside the bundle
 * that a reviewer pins it to. A bundle alone proves only that whoever held its device key wrote
 * it; re-signed end to end with other keys, exported from a rolled-back vault.db or cut and
 * continued, it still verifies. Two anchors close that:
 *
 * - the device key as enrolled at the server (`--device-key`): the bundle must be that device's;
 * - the server's org-wide export (`--against`, verified under the pinned server key): every entry
 *   of the device the server holds must be in the bundle with the same hash (else a fork, with
 *   both hashes), and the bundle must reach at least the server's head for the device.
 *
 * The checker is fed both sides in seq order and keeps the server's hashes as 32 bytes a seq,
 * so a million-entry device costs 32 MB, not a map of strings.
 */

/** A fork: the server logged another entry at this seq of the device. */
export interface AnchorFork {
  readonly seq: number;
  readonly bundleHash: string;
  readonly serverHash: string;
}

export interface AnchorReport {
  readonly ok: boolean;
  /** `--device-key`: the key expected, the bundle's device id, and whether they agree. */
  readonly deviceKey: { readonly expected: string; readonly found: string | null; readonly ok: boolean } | null;
  /** `--against`: the comparison with the server's export. */
  readonly server: {
    /** Whether the server export itself verified under the pinned key (if not, it anchors nothing). */
    readonly exportOk: boolean;
    /** The server's last held seq of this device and its hash, null when it holds none. */
    readonly serverHead: { readonly seq: number; readonly hash: string } | null;
    readonly bundleHead: { readonly seq: number; readonly hash: string } | null;
    /** Entries compared (held by both). */
    readonly compared: number;
    readonly forkCount: number;
    /** The first forks found (at most 25). */
    readonly forks: readonly AnchorFork[];
    readonly ok: boolean;
  } | null;
  /** What failed, each in a sentence; empty when ok. */
  readonly findings: readonly string[];
}

const MAX_FORKS = 25;
const HEX64 = /^[0-9a-f]{64}$/;

/** The server's hashes of one device by seq, 32 bytes each, grown by doubling. */
export class ServerDeviceHashes {
  private bytes = new Uint8Array(32 * 1024);
  private held = new Uint8Array(1024);
  /** One past the highest seq seen. */
  size = 0;

  add(seq: number, hash: string): void {
    if (!Number.isSafeInteger(seq) || seq < 0 || !HEX64.test(hash)) return;
    while (seq >= this.held.length) {
      const bytes = new Uint8Array(this.bytes.length * 2);
      bytes.set(this.bytes);
      this.bytes = bytes;
      const held = new Uint8Array(this.held.length * 2);
      held.set(this.held);
      this.held = held;
    }
    this.bytes.set(hexToBytes(hash), seq * 32);
    this.held[seq] = 1;
    if (seq + 1 > this.size) this.size = seq + 1;
  }

  get(seq: number): string | null {
    if (seq < 0 || seq >= this.size || this.held[seq] !== 1) return null;
    return bytesToHex(this.bytes.subarray(seq * 32, seq * 32 + 32));
  }
}

/** Compares a bundle's entries (pushed in seq order) with what the server holds of its device. */
export class AnchorChecker {
  private deviceFound: string | null = null;
  private compared = 0;
  private forkCount = 0;
  private readonly forks: AnchorFork[] = [];
  private last: { seq: number; hash: string } | null = null;

  constructor(
    private readonly options: {
      readonly deviceKey?: string;
      /** The server's hashes of the bundle's device, and whether its export verified. */
      readonly server?: { readonly hashes: ServerDeviceHashes; readonly exportOk: boolean };
    },
  ) {}

  /** One entry of the bundle, in seq order. */
  push(entry: { readonly device: string; readonly seq: number; readonly hash: string }): void {
    this.deviceFound ??= entry.device;
    this.last = { seq: entry.seq, hash: entry.hash };
    const held = this.options.server?.hashes.get(entry.seq) ?? null;
    if (held === null) return;
    this.compared += 1;
    if (held !== entry.hash) {
      this.forkCount += 1;
      if (this.forks.length < MAX_FORKS) this.forks.push({ seq: entry.seq, bundleHash: entry.hash, serverHash: held });
    }
  }

  finish(): AnchorReport {
    const findings: string[] = [];
    let deviceKey: AnchorReport['deviceKey'] = null;
    if (this.options.deviceKey !== undefined) {
      const ok = this.deviceFound === this.options.deviceKey;
      deviceKey = { expected: this.options.deviceKey, found: this.deviceFound, ok };
      if (!ok) {
        findings.push(
          this.deviceFound === null
            ? 'the bundle holds no entry, so it cannot be the enrolled device’s'
            : `the bundle is device ${this.deviceFound}’s, not the enrolled device ${this.options.deviceKey}: it was written (or re-signed) under another key`,
        );
      }
    }
    let server: AnchorReport['server'] = null;
    const s = this.options.server;
    if (s !== undefined) {
      const top = s.hashes.size - 1;
      const serverHead = top < 0 ? null : { seq: top, hash: s.hashes.get(top) ?? '' };
      const behind = serverHead !== null && (this.last === null || this.last.seq < serverHead.seq);
      if (!s.exportOk) findings.push('the server export does not verify under the pinned server key, so it anchors nothing');
      if (serverHead === null)
        findings.push(
          `the server holds no entry of device ${this.deviceFound ?? '(none)'}: the bundle was never synced, or is another device’s`,
        );
      if (behind) {
        findings.push(
          `the bundle ends at seq ${this.last?.seq ?? 'none'} but the server holds this device up to seq ${serverHead.seq}: the bundle is from a rolled-back or cut journal`,
        );
      }
      if (this.forkCount > 0) {
        const f = this.forks[0]!;
        findings.push(
          `${this.forkCount} entr${this.forkCount === 1 ? 'y differs' : 'ies differ'} from what the server logged (fork), first at seq ${f.seq}: bundle ${f.bundleHash}, server ${f.serverHash}`,
        );
      }
      server = {
        exportOk: s.exportOk,
        serverHead,
        bundleHead: this.last,
        compared: this.compared,
        forkCount: this.forkCount,
        forks: [...this.forks],
        ok: s.exportOk && serverHead !== null && !behind && this.forkCount === 0,
      };
    }
    return { ok: findings.length === 0, deviceKey, server, findings };
  }
}

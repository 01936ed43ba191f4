import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { HalfkeyError } from '../../shared/api/result';
import { bytesToHex } from '../../shared/journal/hex';
import { sodiumReady } from '../../shared/sodium';
import type { ServerExportReport } from '../../shared/sync/server-export';
import { challengeResponseSchema, reviewerChallengeMessage, sessionResponseSchema, wireErrorSchema } from '../../shared/sync/wire';
import { verifyServerExportFile } from '../sync/server-export-file';
import type { SyncService } from '../sync/sync-service';
import { sendRequest, ServerUnreachable } from '../sync/transport';
import type { UnlockedCustodian } from '../vault/custodians';
import type { Vault } from '../vault/vault';

/** The server's refusals of a reviewer key are refusals by rule (exit 3 in the CLI), like other refusals. */
const REFUSALS: Readonly<Record<string, HalfkeyError['code']>> = {
  NOT_A_REVIEWER: 'NOT_PERMITTED',
  CHALLENGE_INVALID: 'NOT_PERMITTED',
  SESSION_INVALID: 'NOT_PERMITTED',
};

function refusal(what: string, status: number, body: unknown): HalfkeyError {
  const parsed = wireErrorSchema.safeParse(body);
  if (!parsed.success) return new HalfkeyError('SYNC_FAILED', `${what}: the server answered HTTP ${status} without an error body.`);
  const { code, message } = parsed.data.error;
  return new HalfkeyError(REFUSALS[code] ?? 'SYNC_FAILED', `${what}: the server refused (${code}): ${message}.`, { code });
}

export interface ReviewServiceOptions {
  /** How long the export download may take (default 10 minutes). */
  readonly exportTimeoutMs?: number;
}

/**
 * What a reviewer does against the central server with their custodian key: sign in
 * (challenge–response, docs/sync-protocol.md "Reviewers") and fetch the org-wide export, checked
 * against the server key this vault pinned at enrolment before it is kept. Later: incidents,
 * alarms and their acknowledgement.
 */
export class ReviewService {
  constructor(
    /** The open vault, or a HalfkeyError saying how to open one. */
    private readonly vault: () => Vault,
    private readonly sync: SyncService,
    private readonly options: ReviewServiceOptions = {},
  ) {}

  /**
   * Downloads the org-wide export as reviewer `by` (unlocked in this session) to `out`: streamed
   * to `out.part`, verified under the pinned server key, then renamed, so a half-downloaded export
   * never sits under the name asked for. An export that does not verify is still renamed (it is
   * evidence); the report says it failed.
   */
  async exportOrgWide(by: string, out: string): Promise<{ out: string; serverFingerprint: string; report: ServerExportReport }> {
    const reviewer = this.vault().custodians.unlocked(by);
    if (reviewer.role !== 'reviewer') {
      throw new HalfkeyError(
        'NOT_PERMITTED',
        `Custodian ${reviewer.id} is enrolled as ${reviewer.role}, not as a reviewer: only a reviewer's key signs in to the server's review.`,
        { rule: 'reviewer-only' },
      );
    }
    const pinned = this.sync.pinnedServer();
    if (pinned === null) {
      throw new HalfkeyError(
        'SYNC_FAILED',
        'This vault is not enrolled with a sync server, so no server key is pinned to check the export against: enrol it first (halfkey sync --enroll).',
      );
    }
    const partial = `${out}.part`;
    try {
      const token = await this.signIn(pinned.url, reviewer);
      await this.download(pinned.url, token, partial);
      const report = await verifyServerExportFile(partial, pinned.key);
      renameSync(partial, out);
      return { out, serverFingerprint: pinned.fingerprint, report };
    } catch (error) {
      rmSync(partial, { force: true });
      if (error instanceof ServerUnreachable) throw new HalfkeyError('SYNC_FAILED', `The export was not downloaded: ${error.message}.`);
      throw error;
    }
  }

  /** Challenge, signature with the reviewer's key, session: returns the bearer token. */
  private async signIn(url: string, reviewer: UnlockedCustodian): Promise<string> {
    const sodium = await sodiumReady();
    const key = reviewer.signer.publicKey;
    const challenge = await sendRequest(url, { method: 'POST', path: '/v1/reviewer/challenge', json: { key } });
    if (challenge.status !== 200) {
      const refused = refusal('Reviewer sign-in', challenge.status, challenge.body);
      // The vault's reviewer role is not enough: the server's operator grants each key (a public key, safe to show).
      if (refused.detail?.code === 'NOT_A_REVIEWER') {
        throw new HalfkeyError(
          'NOT_PERMITTED',
          `${refused.message} This key is ${key}; ask the server's operator to grant it: halfkey server reviewer grant --db … --key ${key} --name NAME`,
          refused.detail,
        );
      }
      throw refused;
    }
    const issued = challengeResponseSchema.safeParse(challenge.body);
    if (!issued.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered the sign-in with something that is not a challenge.');
    const signature = bytesToHex(reviewer.signer.sign(reviewerChallengeMessage(issued.data.challenge, sodium)));
    const session = await sendRequest(url, {
      method: 'POST',
      path: '/v1/reviewer/session',
      json: { key, challenge: issued.data.challenge, signature },
    });
    if (session.status !== 200) throw refusal('Reviewer sign-in', session.status, session.body);
    const granted = sessionResponseSchema.safeParse(session.body);
    if (!granted.success) throw new HalfkeyError('SYNC_FAILED', 'The server answered the sign-in with something that is not a session.');
    return granted.data.token;
  }

  private async download(url: string, token: string, partial: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(new URL('/v1/reviewer/export', url), {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(this.options.exportTimeoutMs ?? 10 * 60_000),
      });
    } catch (error) {
      throw new ServerUnreachable(`the server at ${url} is unreachable (${error instanceof Error ? error.message : 'network error'})`);
    }
    if (response.status !== 200 || response.body === null) {
      const text = await response.text().catch(() => '');
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      throw refusal('Export', response.status, body);
    }
    await pipeline(
      Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
      createWriteStream(partial, { mode: 0o600 }),
    );
  }
}

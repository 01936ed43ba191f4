import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BreakGlassSession } from '../../shared/api/channels/break-glass';
import type { ApiResult } from '../../shared/api/result';
import type { SignedEntry } from '../../shared/journal/entry';
import { verifyEntries } from '../../shared/journal/verifier';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { HALF_PASSWORD, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';

// A break-glass ceremony in a real child process (the app's services and router) is killed with
// SIGKILL: once right after the password step, and several times at random moments of a loop of
// steps. On the next start the open session is found, marked interrupted (journaled), and can be
// resumed or closed; rows and journal entries agree one to one; the chain verifies. Real SQLite
// (WAL, synchronous=FULL), the real keychain (build/with-keyring.sh), real kills.
const CHILD = fileURLToPath(new URL('./break-glass-crash-child.ts', import.meta.url));
const KILLS = 4;

let f: CustodyFixture;
let accounts: string[] = [];

beforeAll(async () => {
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  accounts = [await f.fullAccount(), await f.fullAccount()];
  await f.custody.close();
  f.vault.close();
}, 300_000);

afterAll(async () => {
  await f?.close();
});

/** Runs the child; `until` says when to kill it (the line it waits for, and how long after). */
function runAndKill(mode: 'after-password' | 'loop', accountId: string, until: { line: RegExp; afterMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: {
        ...process.env,
        CRASH_VAULT_DIR: f.dir,
        CRASH_CUSTODIAN: f.ids.pat,
        CRASH_PASSPHRASE: PASSPHRASES.pat,
        CRASH_ACCOUNT: accountId,
        CRASH_MODE: mode,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let armed = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!armed && until.line.test(stdout)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), until.afterMs);
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(stdout);
      else reject(new Error(`child exited on its own (code ${code}): ${stderr.slice(-2000)}`));
    });
  });
}

async function withRouter<T>(
  use: (call: (channel: string, payload: unknown) => Promise<ApiResult<Record<string, unknown>>>, services: AppServices) => Promise<T>,
): Promise<T> {
  const services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
  const router: ApiRouter = createRouter(createHandlerTable(services));
  try {
    return await use(
      async (channel, payload) => (await router.call(channel, payload, { adapter: 'test' })) as ApiResult<Record<string, unknown>>,
      services,
    );
  } finally {
    await services.close();
  }
}

const entriesOf = (services: AppServices): SignedEntry[] => [...(services.vault.current()?.journal.read() ?? [])] as SignedEntry[];

describe('a break-glass session survives kill -9', () => {
  it('killed after the password step: on restart the session is interrupted, refuses the next step until resumed, then completes', async () => {
    const accountId = accounts[0]!;
    const out = await runAndKill('after-password', accountId, { line: /stepped [0-9a-f]{32}\n/, afterMs: 0 });
    const sessionId = /stepped ([0-9a-f]{32})/.exec(out)![1]!;

    await withRouter(async (call, services) => {
      const value = async <T = Record<string, unknown>>(channel: string, payload: unknown): Promise<T> => {
        const r = await call(channel, payload);
        if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`);
        return r.value as T;
      };
      // Found with no custodian unlocked: interrupted, and the step it reached kept.
      const found = (await value<{ sessions: BreakGlassSession[] }>('break-glass:list', {})).sessions.find(
        (s) => s.sessionId === sessionId,
      );
      expect(found).toMatchObject({
        state: 'password-used',
        next: 'resume',
        interruptedAt: expect.any(Number),
        password: { custodianId: f.ids.pat, checkoutOpen: true },
      });
      const interrupted = entriesOf(services).filter((e) => e.type === 'break-glass.interrupted' && e.data.session === sessionId);
      expect(interrupted).toHaveLength(1);
      expect(interrupted[0]).toMatchObject({ actor: null, data: { reached: 'password-used', account: accountId } });

      await value('custodian:unlock', { custodianId: f.ids.mia, passphrase: PASSPHRASES.mia });
      expect(await call('break-glass:use-mfa', { by: f.ids.mia, sessionId })).toMatchObject({
        ok: false,
        error: { code: 'CONFLICT', message: expect.stringMatching(/was interrupted .* resume it or close it/) },
      });
      expect(await value<BreakGlassSession>('break-glass:resume', { by: f.ids.mia, sessionId })).toMatchObject({
        interruptedAt: null,
        next: 'use-mfa',
      });
      expect(await call('break-glass:resume', { by: f.ids.mia, sessionId })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      await value('break-glass:use-mfa', { by: f.ids.mia, sessionId });
      // Nothing lost: Pat's break-glass checkout is still his to reveal from.
      await value('custodian:unlock', { custodianId: f.ids.pat, passphrase: PASSPHRASES.pat });
      const checkoutId = (await value<BreakGlassSession>('break-glass:get', { sessionId })).password!.checkoutId;
      expect(await value('custody:reveal', { by: f.ids.pat, checkoutId, seconds: 5 })).toMatchObject({ password: HALF_PASSWORD });
      expect(
        await value<BreakGlassSession>('break-glass:close', {
          by: f.ids.pat,
          sessionId,
          outcome: 'resolved',
          note: 'completed after a restart',
        }),
      ).toMatchObject({
        state: 'closed',
        rotation: { password: 'due', mfa: 'due' },
      });
      const types = entriesOf(services)
        .filter((e) => e.data.session === sessionId)
        .map((e) => e.type);
      expect(types).toEqual([
        'break-glass.opened',
        'break-glass.password-used',
        'break-glass.interrupted',
        'break-glass.resumed',
        'break-glass.mfa-used',
        'break-glass.closed',
      ]);
      const closed = entriesOf(services).find((e) => e.type === 'break-glass.closed' && e.data.session === sessionId);
      expect(closed?.data).toMatchObject({ reached: 'mfa-used' });
      const report = verifyEntries(entriesOf(services));
      expect(report.failures).toEqual([]);
      expect(report.uncleanSessions).toBeGreaterThanOrEqual(1);
    });
  }, 180_000);

  it(`killed ${KILLS} times at random moments of a loop of steps: every session row and its entries agree, and the chain verifies`, async () => {
    const accountId = accounts[1]!;
    for (let i = 0; i < KILLS; i += 1)
      await runAndKill('loop', accountId, { line: /ready\n/, afterMs: 50 + Math.floor(Math.random() * 700) });

    await withRouter(async (call, services) => {
      const vault = services.vault.current()!;
      const rows = vault.db.prepare('SELECT * FROM break_glass_sessions WHERE account_id = ?').all(accountId) as {
        id: string;
        state: string;
        password_checkout: string | null;
        interrupted_at: number | null;
      }[];
      const entries = entriesOf(services);
      const of = (type: string, session: string) => entries.filter((e) => e.type === type && e.data.session === session);
      expect(rows.length).toBeGreaterThanOrEqual(1);
      for (const row of rows) {
        expect(of('break-glass.opened', row.id), row.id).toHaveLength(1);
        const used = of('break-glass.password-used', row.id);
        const flagged = entries.filter((e) => e.type === 'checkout.opened' && e.data.breakGlassSession === row.id);
        // The step and its checkout commit together or not at all.
        if (row.password_checkout === null) {
          expect(used).toHaveLength(0);
          expect(flagged).toHaveLength(0);
        } else {
          expect(used.map((e) => e.data.checkout)).toEqual([row.password_checkout]);
          expect(flagged.map((e) => e.data.checkout)).toEqual([row.password_checkout]);
        }
        expect(of('break-glass.closed', row.id)).toHaveLength(row.state === 'closed' ? 1 : 0);
      }
      // At most the last kill's session is still open, and then it is interrupted; every earlier one
      // a kill caught was interrupted (each once) and then closed by the next run. (A run killed
      // before it opened a session, or between closing one and opening the next, leaves none open.)
      const open = rows.filter((r) => r.state !== 'closed');
      expect(open.length).toBeLessThanOrEqual(1);
      for (const row of open) expect(row.interrupted_at).not.toBeNull();
      const interrupted = entries.filter((e) => e.type === 'break-glass.interrupted' && rows.some((r) => r.id === e.data.session));
      expect(new Set(interrupted.map((e) => e.data.session)).size).toBe(interrupted.length);
      expect(interrupted.length).toBeGreaterThanOrEqual(1);
      expect(interrupted.length).toBeLessThanOrEqual(KILLS);
      expect(interrupted.map((e) => e.actor)).toEqual(interrupted.map(() => null));
      // Closing it cleanly is always possible.
      await call('custodian:unlock', { custodianId: f.ids.pat, passphrase: PASSPHRASES.pat });
      for (const row of open)
        expect(await call('break-glass:close', { by: f.ids.pat, sessionId: row.id, outcome: 'aborted', note: 'test over' })).toMatchObject({
          ok: true,
        });
      const report = verifyEntries(entriesOf(services));
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(true);
    });
  }, 300_000);
});

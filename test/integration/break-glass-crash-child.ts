// Child process of break-glass-crash.test.ts: the app's services and router on a vault folder, with
// the password custodian (Pat) unlocked. CRASH_MODE=after-password opens a session, uses the
// password half, prints "stepped <session>" and waits to be killed. CRASH_MODE=loop prints "ready",
// then forever: closes the account's open session as aborted (an earlier child's, interrupted),
// opens a new one and uses the password half, until the parent kills it with SIGKILL.
import { openAppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter } from '../../electron/app/router';

const { CRASH_VAULT_DIR, CRASH_CUSTODIAN, CRASH_PASSPHRASE, CRASH_ACCOUNT, CRASH_MODE } = process.env;
if (!CRASH_VAULT_DIR || !CRASH_CUSTODIAN || !CRASH_PASSPHRASE || !CRASH_ACCOUNT || !CRASH_MODE)
  throw new Error('CRASH_* environment variables are required');

const services = await openAppServices({ mode: 'preview', vaultDir: CRASH_VAULT_DIR });
const router = createRouter(createHandlerTable(services));
async function value(channel: string, payload: unknown): Promise<Record<string, unknown>> {
  const result = await router.call(channel, payload, { adapter: 'test' });
  if (!result.ok) throw new Error(`${channel}: ${result.error.code} ${result.error.message}`);
  return result.value as Record<string, unknown>;
}
const by = CRASH_CUSTODIAN;
const incident = { reference: 'INC-KILL', reason: 'power cut during the ceremony', severity: 'high' };
await value('custodian:unlock', { custodianId: by, passphrase: CRASH_PASSPHRASE });
if (CRASH_MODE === 'after-password') {
  const { sessionId } = await value('break-glass:open', { by, accountId: CRASH_ACCOUNT, incident });
  await value('break-glass:use-password', { by, sessionId, seconds: 5 });
  process.stdout.write(`stepped ${String(sessionId)}\n`);
  setInterval(() => {}, 1000);
} else {
  process.stdout.write('ready\n');
  for (let round = 0; ; round += 1) {
    const { sessions } = (await value('break-glass:list', { accountId: CRASH_ACCOUNT, limit: 5 })) as {
      sessions: { sessionId: string; state: string }[];
    };
    for (const s of sessions.filter((x) => x.state !== 'closed'))
      await value('break-glass:close', { by, sessionId: s.sessionId, outcome: 'aborted', note: `left by an earlier run (round ${round})` });
    const { sessionId } = await value('break-glass:open', { by, accountId: CRASH_ACCOUNT, incident });
    await value('break-glass:use-password', { by, sessionId, seconds: 5 });
  }
}

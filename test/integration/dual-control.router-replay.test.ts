import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHandlerTable } from '../../electron/app/handlers';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { openKeytarKeychain } from '../../electron/keychain/keytar-keychain';
import { deviceAccount } from '../../electron/vault/device-key';
import type { Vault } from '../../electron/vault/vault';
import type { JsonObject } from '../../shared/journal/canonical';
import { verifyEntries } from '../../shared/journal/verifier';
import { encodeBase32, parseBase32Secret } from '../../shared/otp/base32';
import { totpCode } from '../../shared/otp/totp';
import {
  ACCOUNT,
  HALVES,
  initialState,
  LEASE_MS,
  PEOPLE,
  sequenceArbitrary,
  START_HOLDERS,
  step,
  violations,
  type Call,
  type Command,
  type Half,
  type Ids,
  type ModelState,
} from '../support/dual-control-model';
import { requireKeyring } from '../support/halfkey-cli';

// Dual control, model-based, level (b): the model's concrete calls (test/support/dual-control-model.ts)
// replayed against the real router — openAppServices + router.call, a real SQLite vault, real
// libsodium and Argon2id, the real keychain (build/with-keyring.sh). Each person can type only their
// own custodian's passphrase. For every call the router's answer must match the model's verdict
// (allowed, or refused with the same code); after every command the safety invariants
// (`violations`) must hold on the state read back from the real vault; at the end the real journal
// verifies. Level (a), thousands of runs over the pure rules, is test/unit/dual-control.property.test.ts.
//
// Cost. Production refuses Argon2id below MODERATE (~1–3 s a derivation here), and nothing here
// weakens it. So the model's starting vault (seven custodians, the password half with Pat and the
// MFA half with Mia, both set) is built once per file, and each run starts from a copy of its
// vault.db (same vault id, so the same keychain entry opens it). A run derives only for its own
// unlocks and approvals, and is cut where it would spend more than RUN_DERIVATIONS of them.
//
// Time. openAppServices has no injectable clock, so the model's "time passes" commands (`wait`,
// and a `ride` on a session whose owner walked away, which waits out the presence window first) are
// played with a stand-in for the clock: Date alone is faked (vi.useFakeTimers({ toFake: ['Date'] })),
// frozen during a run and moved forward only by the model's waits. Timers, workers, SQLite and
// libsodium stay real. The idle lock, which the model leaves out, is set beyond the longest wait
// (at every wait: the vault policy sets its own when custody opens the vault).

const RUNS = 24;
const RUN_DERIVATIONS = 3;
const IDLE_LOCK_MS = 30 * 24 * 3600_000;
const context = { adapter: 'test' } as const;

/** Each person's own passphrase (test values): the only one they can type. */
const PASSPHRASES = PEOPLE.map((p, i) => `${p.name.toLowerCase()} knows only this passphrase ${10 + i}`);
const INITIAL_PASSWORD = 'Model-Initial-Passw0rd!';
/** The MFA seed of generation g (the model's rotations give each a new one). */
const seedOf = (generation: number): string => encodeBase32(new Uint8Array(20).fill(generation * 7 + 1));

type Result = { ok: true; value: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

let base = '';
let seedDir = '';
let vaultId = '';
/** Custodian ids of the starting vault, by person ('' for the newcomers). */
let startIds: string[] = [];

async function open(dir: string): Promise<{ services: AppServices; router: ApiRouter }> {
  const services = await openAppServices({ mode: 'preview', vaultDir: dir, idleLockMs: IDLE_LOCK_MS });
  return { services, router: createRouter(createHandlerTable(services)) };
}

async function must(router: ApiRouter, channel: string, payload: unknown): Promise<Record<string, unknown>> {
  const result = (await router.call(channel, payload, context)) as Result;
  if (!result.ok) throw new Error(`setup: ${channel}: ${result.error.code} ${result.error.message}`);
  return result.value;
}

/**
 * The model's starting vault, made through the router as the product makes it: Ada creates it and
 * enrols Pat as the founding custodian; she proposes the other five enrolments and Pat approves each,
 * every newcomer typing their own passphrase (Rita's organisation, Audit, is proposed and approved first); she adds the account and proposes the two assignments,
 * Mia and Pat approve them; Pat and Mia set their halves. 19 Argon2id derivations.
 */
async function buildStartingVault(): Promise<void> {
  const { services, router } = await open(seedDir);
  try {
    const ada = (await must(router, 'vault:create', { adminName: 'Ada', organisation: 'Provider', passphrase: PASSPHRASES[0] }))
      .adminId as string;
    vaultId = services.vault.require().id;
    startIds = PEOPLE.map(() => '');
    startIds[0] = ada;
    const unlock = (person: number) => must(router, 'custodian:unlock', { custodianId: startIds[person], passphrase: PASSPHRASES[person] });
    await unlock(0);
    const enrolled = PEOPLE.flatMap((p, i) => (p.enrolled && i > 0 ? [i] : []));
    const [founding, ...later] = enrolled as [number, ...number[]];
    const who = (i: number) => ({ by: ada, name: PEOPLE[i]!.name, organisation: PEOPLE[i]!.organisation, role: PEOPLE[i]!.role });
    startIds[founding] = (
      (await must(router, 'custodian:enrol', { ...who(founding), passphrase: PASSPHRASES[founding] })).custodian as { id: string }
    ).id;
    // Organisations are records: the founding pair's come with them; any other is proposed by Ada
    // and approved by Pat before anyone of it is enrolled.
    const founded = new Set([PEOPLE[0]!.organisation, PEOPLE[founding]!.organisation]);
    for (const name of new Set(later.map((i) => PEOPLE[i]!.organisation).filter((o) => !founded.has(o)))) {
      const { proposal } = (await must(router, 'organisation:add', { by: ada, name })) as { proposal: { id: string } };
      await must(router, 'proposal:approve', { by: startIds[founding], proposalId: proposal.id, passphrase: PASSPHRASES[founding] });
      await unlock(0);
    }
    const proposals: [number, string, string][] = [];
    for (const i of later) {
      const { proposal } = (await must(router, 'custodian:enrol', who(i))) as { proposal: { id: string; change: { custodian: string } } };
      proposals.push([i, proposal.id, proposal.change.custodian]);
    }
    for (const [i, proposalId, id] of proposals) {
      await must(router, 'proposal:approve', {
        by: startIds[founding],
        proposalId,
        passphrase: PASSPHRASES[founding],
        newcomerPassphrase: PASSPHRASES[i],
      });
      startIds[i] = id;
    }
    await unlock(0);
    await must(router, 'custody:account-add', {
      by: ada,
      accountId: ACCOUNT,
      alias: 'model',
      rootEmail: 'root@example.com',
      organisation: 'Customer',
    });
    const pat = START_HOLDERS.password;
    const mia = START_HOLDERS.mfa;
    const assign = async (item: Half, holder: number) =>
      (
        (await must(router, 'custody:assign', { by: ada, accountId: ACCOUNT, item, custodianId: startIds[holder] })).proposal as {
          id: string;
        }
      ).id;
    const password = await assign('password', pat);
    const mfa = await assign('mfa', mia);
    await must(router, 'proposal:approve', { by: startIds[mia], proposalId: password, passphrase: PASSPHRASES[mia] });
    await must(router, 'proposal:approve', { by: startIds[pat], proposalId: mfa, passphrase: PASSPHRASES[pat] });
    await must(router, 'custody:half-set', {
      by: startIds[pat],
      accountId: ACCOUNT,
      item: 'password',
      secret: { kind: 'password', password: INITIAL_PASSWORD },
    });
    await unlock(mia);
    await must(router, 'custody:half-set', {
      by: startIds[mia],
      accountId: ACCOUNT,
      item: 'mfa',
      secret: { kind: 'totp', seed: seedOf(1) },
    });
    await must(router, 'vault:lock', {});
  } finally {
    await services.close();
  }
}

/** How many Argon2id derivations the model says a call makes (an unlock, or the approver's and a newcomer's passphrase at approval). */
function derivations(call: Call): number {
  const reached = call.refused === null || call.refused.code === 'BAD_PASSPHRASE';
  if (call.channel === 'custodian:unlock') return reached ? 1 : 0;
  if (call.channel !== 'proposal:approve') return 0;
  if (call.refused === null) return call.payload.type === 'custodian.enrolled' ? 2 : 1;
  return reached ? 1 : 0;
}

/** Placeholder ids the model hands out, mapped to the real ones as the router answers. */
class ReplayIds implements Ids {
  private n = 0;
  readonly real = new Map<string, string>();
  custodian = (): string => `custodian#${(this.n += 1)}`;
  proposal = (): string => `proposal#${(this.n += 1)}`;
  checkout = (): string => `checkout#${(this.n += 1)}`;
  seedRequest = (): string => `request#${(this.n += 1)}`;
  signingKey = (id: string): string => `key:${this.toReal(id)}`;
  toReal(id: string): string {
    return this.real.get(id) ?? id;
  }
}

/** The model's run of `cmds` on a throw-away state, cut before the command that would exceed the derivation budget. */
function withinBudget(cmds: readonly Command[]): Command[] {
  const s = initialState(
    PEOPLE.map((_, i) => `c${i}`),
    0,
  );
  const ids = new ReplayIds();
  let spent = 0;
  const kept: Command[] = [];
  for (const cmd of cmds) {
    const cost = step(s, cmd, ids).reduce((sum, call) => sum + derivations(call), 0);
    if (spent + cost > RUN_DERIVATIONS) break;
    spent += cost;
    kept.push(cmd);
  }
  return kept;
}

/** What all runs together reached, so the replay cannot pass by refusing everything. */
const reached = {
  runMs: 0,
  callMs: 0,
  calls: 0,
  allowed: 0,
  refused: new Map<string, number>(),
  applied: new Map<string, number>(),
  derivations: 0,
  runs: 0,
};

/** One run: the model and the real router side by side, from a copy of the starting vault. */
async function replay(generated: readonly Command[]): Promise<void> {
  const cmds = withinBudget(generated);
  const dir = mkdtempSync(join(base, 'run-'));
  for (const file of ['vault.db', 'vault.db-wal']) if (existsSync(join(seedDir, file))) copyFileSync(join(seedDir, file), join(dir, file));
  const start = Date.now();
  const t0 = performance.now();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(start);
  const { services, router } = await open(dir);
  try {
    const s = initialState(startIds, start);
    const ids = new ReplayIds();
    for (const id of startIds) if (id !== '') ids.real.set(id, id);
    /** Which person each real custodian id is (the starting ones, then each approved enrolment's newcomer). */
    const personOf = new Map(startIds.flatMap((id, i) => (id === '' ? [] : [[id, i] as const])));
    /** Who really made and approved each proposal of this run: real proposal id → persons. */
    const made = new Map<string, number>();
    const approvedBy = new Map<string, number>();
    /** What each person was really given, read from the router's answers: `${item}:${generation}`. */
    const obtained: Set<string>[] = PEOPLE.map((_, i) =>
      i === START_HOLDERS.password ? new Set(['password:1']) : i === START_HOLDERS.mfa ? new Set(['mfa:1']) : new Set<string>(),
    );
    const passwords = new Map<string, number>([[INITIAL_PASSWORD, 1]]);
    const done: string[] = [];
    for (const cmd of cmds) {
      const before = { proposals: s.proposals.length, checkouts: s.checkouts.length, requests: s.seedRequests.length };
      const calls = step(s, cmd, ids);
      const proposal = s.proposals[before.proposals];
      const checkout = s.checkouts[before.checkouts];
      const request = s.seedRequests[before.requests];
      for (const call of calls) {
        const where = () =>
          `${call.channel} by ${PEOPLE[call.person]?.name ?? '-'} as ${call.by}\nafter:\n${done.join('\n')}\n${JSON.stringify(cmd)}`;
        if (call.channel === 'wait') {
          // The vault policy puts its own idle lock (300 s by default) in force whenever custody
          // opens the vault; the model leaves the idle lock out, so it is set past the longest wait
          // again before time moves.
          services.vault.current()?.custodians.setIdleLockMs(IDLE_LOCK_MS);
          vi.setSystemTime(Date.now() + (call.payload.ms as number));
          continue;
        }
        const payload = request_(call, ids, s);
        const t1 = performance.now();
        const result = (await router.call(call.channel, payload, context)) as Result;
        reached.callMs += performance.now() - t1;
        reached.calls += 1;
        reached.derivations += derivations(call);
        const expected = call.refused?.code ?? 'ok';
        const actual = result.ok ? 'ok' : result.error.code;
        if (actual !== expected)
          throw new Error(
            `the router answered ${actual}${result.ok ? '' : ` (${result.error.message})`} where the model says ${expected}${call.refused ? ` (${call.refused.why})` : ''}: ${where()}`,
          );
        if (!result.ok) {
          reached.refused.set(actual, (reached.refused.get(actual) ?? 0) + 1);
          continue;
        }
        reached.allowed += 1;
        const v = result.value;
        const created = v.proposal as { id: string; change: JsonObject } | null | undefined;
        if (call.channel === 'proposal:approve') {
          approvedBy.set(payload.proposalId as string, call.person);
          const applied = s.proposals.find((p) => ids.toReal(p.id) === payload.proposalId)!;
          reached.applied.set(applied.type, (reached.applied.get(applied.type) ?? 0) + 1);
          if (applied.type === 'custodian.enrolled') personOf.set(ids.toReal(applied.change.custodian as string), applied.newcomer!);
        } else if (created != null && proposal !== undefined) {
          ids.real.set(proposal.id, created.id);
          made.set(created.id, call.person);
          if (proposal.type === 'custodian.enrolled') ids.real.set(proposal.change.custodian as string, created.change.custodian as string);
          if (request !== undefined) ids.real.set(request.id, v.requestId as string);
        }
        if (call.channel === 'custody:checkout' && checkout !== undefined) ids.real.set(checkout.id, v.checkoutId as string);
        // What the person was given, by generation.
        const given = (item: Half, generation: number | undefined): void => {
          if (generation === undefined)
            throw new Error(`${call.channel} gave ${PEOPLE[call.person]!.name} a ${item} of no known generation: ${where()}`);
          obtained[call.person]!.add(`${item}:${generation}`);
        };
        if (call.channel === 'custody:reveal') given('password', passwords.get(v.password as string));
        if (call.channel === 'custody:rotate') {
          const generation = v.generation as number;
          if (v.password != null) passwords.set(v.password as string, generation);
          given(payload.item as Half, generation);
        }
        if (call.channel === 'custody:totp-code') {
          const generations = await mfaGenerationsShowing(services.vault.require(), v.code as string);
          given('mfa', generations[0]);
          for (const g of generations) given('mfa', g);
        }
        if (call.channel === 'custody:seed-export-collect') {
          const g = [...Array(10).keys()].find((n) => seedOf(n + 1) === encodeBase32(parseBase32Secret(v.base32 as string)));
          given('mfa', g === undefined ? undefined : g + 1);
        }
      }
      done.push(JSON.stringify(cmd));
      const real = readReal(services.vault.require(), s, personOf, made, approvedBy, obtained, ids);
      const broken = violations(real);
      if (broken.length > 0) throw new Error(`on the real vault: ${broken.join('; ')}\nafter:\n${done.join('\n')}`);
      // The real vault and the model agree on who holds what.
      for (const item of HALVES) {
        expect([...real.assignments[item]].sort(), `${item} assignments after:\n${done.join('\n')}`).toEqual(
          [...s.assignments[item]].map((id) => ids.toReal(id)).sort(),
        );
        expect(real.halves[item].generation, `${item} generation`).toBe(s.halves[item].generation);
        expect(real.halves[item].pending?.generation ?? null, `${item} pending`).toBe(s.halves[item].pending?.generation ?? null);
        // Rule 2's sightings: reset only by a confirmed rotation, never by a pending one.
        expect([...real.seen[item]].sort(), `${item} seen`).toEqual([...s.seen[item]].map((id) => ids.toReal(id)).sort());
      }
    }
    const failures = verifyEntries(services.vault.require().journal.read()).failures;
    if (failures.length > 0) throw new Error(`the real journal fails: ${JSON.stringify(failures)}\nafter:\n${done.join('\n')}`);
    reached.runs += 1;
  } finally {
    await services.close();
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
    reached.runMs += performance.now() - t0;
  }
}

/** The router request for one of the model's calls: placeholders made real, and the passphrase the person can type. */
function request_(call: Call, ids: ReplayIds, s: ModelState): Record<string, unknown> {
  const by = ids.toReal(call.by);
  const p = call.payload;
  const own = PASSPHRASES[call.person]!;
  const account = { by, accountId: ACCOUNT };
  switch (call.channel) {
    case 'vault:lock':
      return {};
    case 'custodian:unlock':
      return { custodianId: by, passphrase: own };
    case 'custodian:enrol':
      return { by, name: p.name, organisation: p.organisation, role: p.role };
    case 'custodian:revoke':
      return { by, custodianId: ids.toReal(p.custodianId as string), reason: 'model' };
    case 'custody:assign':
    case 'custody:unassign':
    case 'custody:reseal':
      return { ...account, item: p.item, custodianId: ids.toReal(p.custodianId as string) };
    case 'proposal:approve':
      return {
        by,
        proposalId: ids.toReal(p.proposalId as string),
        passphrase: own,
        ...(p.type === 'custodian.enrolled' ? { newcomerPassphrase: PASSPHRASES[p.newcomer as number] } : {}),
      };
    case 'proposal:withdraw':
      return { by, proposalId: ids.toReal(p.proposalId as string), reason: 'model' };
    case 'custody:checkout':
      return { ...account, item: p.item, reason: 'model', leaseSeconds: LEASE_MS / 1000 };
    case 'custody:reveal':
      return { by, checkoutId: ids.toReal(p.checkoutId as string), seconds: 30 };
    case 'custody:totp-code':
    case 'custody:checkin':
      return { by, checkoutId: ids.toReal(p.checkoutId as string) };
    case 'custody:rotate':
      // A new seed for each generation, so a code shown later tells which generation it came from.
      return {
        ...account,
        item: p.item,
        seconds: 30,
        ...(p.item === 'mfa' ? { seed: seedOf(s.halves.mfa.pending?.generation ?? s.halves.mfa.generation + 1) } : {}),
      };
    case 'custody:rotation-confirm':
    case 'custody:rotation-abandon':
      return { ...account, item: p.item };
    case 'custody:seed-export-request':
      return { ...account, reason: 'model' };
    case 'custody:seed-export-collect':
      return { by, requestId: ids.toReal(p.requestId as string) };
    default:
      throw new Error(`the replay does not know ${call.channel}`);
  }
}

/** The MFA generations whose seed gives `code` now. */
async function mfaGenerationsShowing(vault: Vault, code: string): Promise<number[]> {
  const [row] = vault.db.prepare("SELECT generation FROM custody_halves WHERE account_id = ? AND item = 'mfa'").all(ACCOUNT) as {
    generation: number;
  }[];
  const out: number[] = [];
  for (let g = 1; g <= (row?.generation ?? 1) + 1; g += 1) {
    const { code: shown } = await totpCode({ secret: parseBase32Secret(seedOf(g)), algorithm: 'SHA1', digits: 6, period: 30 }, Date.now());
    if (shown === code) out.push(g);
  }
  return out;
}

/** The state the invariants read, taken from the real vault (and, for who typed what, from the driver's own record). */
function readReal(
  vault: Vault,
  model: ModelState,
  personOf: ReadonlyMap<string, number>,
  made: ReadonlyMap<string, number>,
  approvedBy: ReadonlyMap<string, number>,
  obtained: Set<string>[],
  ids: ReplayIds,
): ModelState {
  const all = <T>(sql: string, ...params: unknown[]): T[] => vault.db.prepare(sql).all(...params) as T[];
  const custodians = all<{ id: string; revoked: number }>('SELECT id, revoked FROM custodians ORDER BY rowid').map((c) => ({
    id: c.id,
    person: personOf.get(c.id)!,
    revoked: c.revoked === 1,
    failures: 0,
    backoffUntil: 0,
  }));
  const ofItem = (sql: string, item: Half): Set<string> => new Set(all<{ c: string }>(sql, ACCOUNT, item).map((r) => r.c));
  const halves = Object.fromEntries(
    HALVES.map((item) => {
      const [half] = all<{ generation: number }>('SELECT generation FROM custody_halves WHERE account_id = ? AND item = ?', ACCOUNT, item);
      const [pending] = all<{ generation: number; rotated_by: string }>(
        'SELECT generation, rotated_by FROM custody_pending_rotations WHERE account_id = ? AND item = ?',
        ACCOUNT,
        item,
      );
      return [
        item,
        {
          generation: half!.generation,
          sealed: ofItem('SELECT custodian_id AS c FROM custody_sealed WHERE account_id = ? AND item = ?', item),
          pending:
            pending === undefined
              ? null
              : {
                  generation: pending.generation,
                  rotatedBy: pending.rotated_by,
                  sealed: ofItem('SELECT custodian_id AS c FROM custody_pending_sealed WHERE account_id = ? AND item = ?', item),
                },
        },
      ];
    }),
  ) as ModelState['halves'];
  const byItem = (sql: string) => Object.fromEntries(HALVES.map((item) => [item, ofItem(sql, item)])) as Record<Half, Set<string>>;
  const runProposals = new Set(model.proposals.map((p) => ids.toReal(p.id)));
  const proposals = all<{ id: string; type: string; change: string; proposer: string; state: string; decided_by: string | null }>(
    'SELECT id, type, change, proposer, state, decided_by FROM proposals',
  )
    .filter((p) => runProposals.has(p.id))
    .map((p) => ({
      id: p.id,
      type: p.type,
      change: JSON.parse(p.change) as JsonObject,
      proposer: p.proposer,
      madeBy: made.get(p.id)!,
      proposedAt: 0,
      expiresAt: 0,
      newcomer: null,
      state: p.state as 'open',
      approvedBy: p.state === 'applied' ? approvedBy.get(p.id)! : null,
      approver: p.decided_by,
      appliedAt: null,
      sig: '',
    }));
  const checkouts = all<{ id: string; custodian_id: string; item: Half; lease_until: number }>(
    'SELECT id, custodian_id, item, lease_until FROM custody_checkouts WHERE closed_at IS NULL AND account_id = ?',
    ACCOUNT,
  ).map((c) => ({ id: c.id, custodian: c.custodian_id, item: c.item, leaseUntil: c.lease_until, open: c.lease_until > Date.now() }));
  return {
    now: Date.now(),
    custodians,
    actor: null,
    presentUntil: 0,
    halves,
    assignments: byItem('SELECT custodian_id AS c FROM custody_assignments WHERE account_id = ? AND item = ?'),
    seen: byItem('SELECT custodian_id AS c FROM custody_seen WHERE account_id = ? AND item = ?'),
    proposals,
    checkouts,
    seedRequests: [],
    obtained,
  };
}

beforeAll(async () => {
  requireKeyring();
  base = mkdtempSync(join(tmpdir(), 'halfkey-replay-'));
  seedDir = join(base, 'start');
  mkdirSync(seedDir);
  await buildStartingVault();
}, 240_000);

afterAll(async () => {
  if (vaultId) await (await openKeytarKeychain()).delete(deviceAccount(vaultId));
  if (base) rmSync(base, { recursive: true, force: true });
});

/** The named scenarios of issue 14, always replayed before the random runs. */
const by = { aim: true, ride: false, fresh: true } as const;
const SCENARIOS: Command[][] = [
  // Puppet: Ada proposes enrolling a newcomer and approves it herself; then tries Pat's session with her own passphrase.
  [
    { k: 'enrol', ...by, p: 0, newcomer: 0 },
    { k: 'approve', aim: false, p: 0, pick: 0 },
    { k: 'unlock', p: 0, other: 1 },
  ],
  // One keyboard: Pat checks out the password and walks away; Mia, at his keyboard, tries to reveal it as him.
  [
    { k: 'checkout', ...by, p: 1, item: 'password' },
    { k: 'use', aim: false, p: 2, ride: true, fresh: false, pick: 0 },
  ],
  // Unconfirmed rotation: Pat rotates and proposes the confirmation, approves it himself (refused), then Mia approves it.
  [
    { k: 'rotate', ...by, p: 1, item: 'password' },
    { k: 'confirm', aim: true, ride: false, fresh: false, p: 1, item: 'password' },
    { k: 'approve', aim: false, p: 1, pick: 0 },
    { k: 'approve', aim: false, p: 2, pick: 0 },
  ],
];

describe('dual control, router level (b): the model replayed against the real router and vault', () => {
  it('every call is answered as the model says, the invariants hold on the real vault, and the journal verifies', async () => {
    await fc.assert(
      fc.asyncProperty(sequenceArbitrary(8), async (cmds) => {
        await replay(cmds);
      }),
      { numRuns: RUNS, examples: SCENARIOS.map((s) => [s]), endOnFailure: true },
    );
    // Something happened: calls allowed and refused, and changes applied through two people.
    expect(reached.runs).toBeGreaterThanOrEqual(RUNS);
    expect(reached.allowed).toBeGreaterThan(RUNS);
    expect(reached.refused.get('NOT_PERMITTED') ?? 0).toBeGreaterThan(0);
    expect(reached.applied.size).toBeGreaterThan(0);
    console.log(
      `router replay: ${JSON.stringify({ ...reached, refused: Object.fromEntries(reached.refused), applied: Object.fromEntries(reached.applied) })}`,
    );
  }, 600_000);
});

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../shared/journal/canonical';
import { proposalSignatureMessage, TWO_PERSON_TYPES } from '../../shared/journal/dual-control';
import { verifyEntries } from '../../shared/journal/verifier';
import { sodiumReady, type Sodium } from '../../shared/sodium';
import {
  APPLY,
  byId,
  sequenceArbitrary,
  initialState,
  PEOPLE,
  step,
  violations,
  type Command,
  type Ids,
  type ModelState,
  type Proposal,
} from '../support/dual-control-model';
import { openDatabase } from '../../electron/base/database';
import { JournalStore } from '../../electron/journal/store';
import { seededSigner, TEST_VAULT } from '../support/journal-builder';

// Dual control, model-based (issue 14, "Tests"). Random sequences of every operation a person can
// do, played by people who each know exactly one custodian's passphrase (test/support/
// dual-control-model.ts). Level (a): the model alone, deciding with the app's pure rules, writing
// the journal the app would write for every applied change, which the real verifier must accept;
// thousands of runs. The model's calls name channel, `by` and person, so a level (b) driver can
// play the same sequences against the real router and compare (not written yet).

let sodium: Sodium;
beforeAll(async () => {
  sodium = await sodiumReady();
});

const seedOf = (person: number): number => 0x40 + person;
/** Each person's signing key (deterministic test keys), made once. */
const signers = new Map<number, ReturnType<typeof seededSigner>>();
const signerOf = (person: number): ReturnType<typeof seededSigner> => {
  let signer = signers.get(person);
  if (signer === undefined) signers.set(person, (signer = seededSigner(seedOf(person))));
  return signer;
};
const summary = (cmds: readonly Command[]): string => cmds.map((c) => JSON.stringify(c)).join('\n');

/** What all runs together reached, so the property cannot hold by refusing everything. */
const reached = { applied: new Map<string, number>(), obtained: 0, refusedAlone: 0, rides: 0, ridesRefused: 0 };

/** One run of level (a): the model, its journal, the invariants after every step, and the verifier at the end. */
function runModel(cmds: readonly Command[]): void {
  const journal = new MemoryJournal();
  try {
    const startIds = PEOPLE.map((_, i) => `c${i}`);
    PEOPLE.forEach((p, i) => {
      if (p.enrolled) journal.enrol(startIds[i]!, seedOf(i), p);
    });
    const s: ModelState = initialState(startIds, journal.clock + 1000);
    let counter = 0;
    const fresh = (prefix: string) => (): string => `${prefix}${(counter += 1)}`;
    const ids: Ids = {
      custodian: fresh('n'),
      proposal: () => (counter += 1).toString(16).padStart(32, '0'),
      checkout: fresh('k'),
      seedRequest: fresh('r'),
      signingKey: (id) => signerOf(byId(s, id)!.person).publicKey,
    };
    const signer = (id: string) => signerOf(byId(s, id)!.person);
    for (const cmd of cmds) {
      const calls = step(s, cmd, ids);
      for (const call of calls) {
        if (call.channel === 'proposal:approve' && call.refused?.code === 'NOT_PERMITTED') reached.refusedAlone += 1;
        if (call.person >= 0 && call.by !== '' && byId(s, call.by)?.person !== call.person && call.channel !== 'custodian:unlock') {
          reached.rides += 1;
          if (call.refused !== null) reached.ridesRefused += 1;
        }
        if (call.refused === null && ['custody:reveal', 'custody:totp-code', 'custody:seed-export-collect'].includes(call.channel))
          reached.obtained += 1;
      }
      // The proposer signs when proposing; the approver's entry is written when it applies.
      for (const p of s.proposals) {
        if (p.sig === '') p.sig = sodium.to_hex(signer(p.proposer).sign(statement(p)));
        if (p.state === 'applied' && !written.has(p)) {
          written.add(p);
          journal.clock = p.appliedAt!;
          writeApplied(journal, p, signer);
          reached.applied.set(p.type, (reached.applied.get(p.type) ?? 0) + 1);
        }
      }
      const broken = violations(s);
      if (broken.length > 0) throw new Error(`${broken.join('; ')}\nafter:\n${summary(cmds)}`);
    }
    const entries = journal.store.read({});
    const failures = verifyEntries(entries).failures;
    if (failures.length > 0) throw new Error(`the model's journal fails: ${JSON.stringify(failures)}\n${summary(cmds)}`);
    // Read from the journal alone: every two-person entry names two custodians held by two different people.
    const personOf = (id: unknown): number | undefined => (typeof id === 'string' ? byId(s, id)?.person : undefined);
    for (const e of entries) {
      if (TWO_PERSON_TYPES[e.type] === undefined || e.data.founding === true) continue;
      const approval = e.data.approval as JsonObject;
      if (personOf(approval.proposer) === personOf(e.actor)) throw new Error(`entry ${e.seq} (${e.type}) was made by one person alone`);
    }
  } finally {
    journal.close();
  }
}

const written = new WeakSet<Proposal>();

/**
 * The real journal store (real SQLite, real signatures) in memory: a file per run would spend the
 * run's time in fsync. The starting roster is written as the app writes it: the founding pair
 * alone, every later enrolment proposed by the first admin and approved by the second founder.
 */
class MemoryJournal {
  readonly db = openDatabase(':memory:');
  clock = 1_760_000_000_000;
  readonly store = JournalStore.open(this.db, {
    deviceSigner: seededSigner(1),
    now: () => this.clock,
    checkpointEvery: 16,
    heartbeatMs: 60_000,
  });
  private readonly founders: string[] = [];

  constructor() {
    this.store.init(TEST_VAULT, { name: 'model' });
  }

  enrol(id: string, seed: number, who: { name: string; organisation: string; role: string }): void {
    const signer = signerOf(seed - 0x40);
    const data = { custodian: id, name: who.name, organisation: who.organisation, role: who.role };
    this.clock += 1000;
    if (this.founders.length < 2) {
      this.founders.push(id);
      this.store.append({
        type: 'custodian.enrolled',
        actor: { id, signer },
        data: { ...data, founding: true, signingKey: signer.publicKey },
      });
      return;
    }
    const [admin, second] = this.founders as [string, string];
    const founder = (c: string) => signerOf(Number(c.slice(1)));
    const p = {
      id: (0xf000 + seed).toString(16).padStart(32, '0'),
      type: 'custodian.enrolled',
      change: data,
      proposer: admin,
      proposedAt: this.clock,
      expiresAt: this.clock + 86_400_000,
      approver: second,
    } as unknown as Proposal;
    p.sig = sodium.to_hex(founder(admin).sign(statement(p)));
    writeApplied(this, p, (c) => (c === id ? signer : founder(c)));
  }

  close(): void {
    this.db.close();
  }
}

function statement(p: Proposal): Uint8Array {
  const { id: proposal, type, proposer, proposedAt, expiresAt, change } = p;
  return proposalSignatureMessage({ vault: TEST_VAULT, type, proposal, proposer, proposedAt, expiresAt, change }, sodium);
}

/** The entry the app writes when a proposal applies: data = change + what applying added + the approval, signed by the approver (and a newcomer). */
function writeApplied(
  journal: { readonly store: JournalStore },
  p: Proposal,
  signer: (id: string) => ReturnType<typeof seededSigner>,
): void {
  const approver = p.approver!;
  const newcomer = p.type === 'custodian.enrolled' ? signer(p.change.custodian as string) : null;
  const details: JsonObject = newcomer === null ? {} : { signingKey: newcomer.publicKey };
  const approval = {
    proposal: p.id,
    proposer: p.proposer,
    approver,
    proposedAt: p.proposedAt,
    expiresAt: p.expiresAt,
    change: p.change,
    sig: p.sig,
  };
  journal.store.append({
    type: p.type,
    actor: { id: approver, signer: signer(approver) },
    cosigners: newcomer === null ? [] : [newcomer],
    data: { ...p.change, ...details, approval },
  });
}

describe('dual control, model level (a): the pure rules and the verifier over thousands of sequences', () => {
  it('no one person holds or is given both halves, or changes custody alone; every journal verifies', () => {
    fc.assert(
      fc.property(sequenceArbitrary(30), (cmds) => {
        runModel(cmds);
      }),
      { numRuns: 2000 },
    );
    // Liveness: two eligible people did get every kind of change through, and halves were used.
    for (const type of Object.keys(APPLY)) expect(reached.applied.get(type) ?? 0, type).toBeGreaterThanOrEqual(10);
    expect(reached.obtained).toBeGreaterThanOrEqual(150);
    // And the adversary did try: refused approvals (alone, as the subject, in the wrong role) and rides on a walked-away session.
    expect(reached.refusedAlone).toBeGreaterThanOrEqual(50);
    expect(reached.rides).toBeGreaterThanOrEqual(100);
  }, 120_000);
});

import { HalfkeyError, type ErrorCode } from '../../shared/api/result';
import type { PolicyDecision } from '../../shared/policy/four-eyes';

/** Why a custody action was refused: a four-eyes rule, or a custody condition (rotation due, exclusive checkout, …). */
export interface RefusalFacts {
  readonly action: string;
  readonly accountId: string;
  readonly item: string;
  /** The custodian the refused action was about (the assignee, or the acting custodian). */
  readonly custodianId: string;
  readonly rule: number | string | null;
  readonly ruleName: string;
  readonly message: string;
}

/**
 * Thrown inside a custody transaction to abort it. `CustodyContext.refusable` catches it after the rollback,
 * journals `custody.refused` in a transaction of its own, and throws the HalfkeyError, so a
 * refused action leaves no change but always leaves its entry.
 */
export class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly facts: RefusalFacts,
  ) {
    super(facts.message);
    this.name = 'Refusal';
  }

  toError(): HalfkeyError {
    const { rule, ruleName, item, accountId, action } = this.facts;
    return new HalfkeyError(this.code, this.facts.message, { rule, ruleName, item, accountId, action });
  }
}

/** Turns a policy decision into a Refusal (POLICY_REFUSED) unless it allows. */
export function enforce(decision: PolicyDecision, action: string, custodianId: string): void {
  if (decision.allowed) return;
  throw new Refusal('POLICY_REFUSED', {
    action,
    accountId: decision.accountId,
    item: decision.item,
    custodianId,
    rule: decision.rule,
    ruleName: decision.ruleName,
    message: decision.message,
  });
}

/**
 * Runs a check outside a refusable transaction (a proposal's check before approval): a Refusal
 * there becomes its HalfkeyError, unjournaled; the apply step asks again and journals it.
 */
export function plainCheck(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof Refusal) throw error.toError();
    throw error;
  }
}

import { HalfkeyError } from '../../shared/api/result';
import type { JsonObject } from '../../shared/journal/canonical';
import { isCustodianRole } from '../../shared/journal/dual-control';
import type { ChangeKind } from '../proposals/proposal-service';
import type { CustodianDirectory } from './custodians';

const noControl = /^[^\p{Cc}]*$/u;

function text(change: JsonObject, field: string, max: number): string {
  const value = change[field];
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > max || !noControl.test(value)) {
    throw new HalfkeyError('INVALID_PAYLOAD', `The proposal's ${field} must be 1 to ${max} characters without control characters.`, {
      field,
    });
  }
  return value;
}

/**
 * `custodian.enrolled` by proposal: an admin names the newcomer (name, organisation, role) and no
 * passphrase; at approval the newcomer types their own passphrase in their own prompt, their keys
 * are made from it, and they co-sign their enrolment. The approver attests they were present.
 */
export function enrolmentChange(custodians: CustodianDirectory): ChangeKind {
  return {
    describe: (c) => `Enrol ${String(c.name)} as ${String(c.role)} of ${String(c.organisation)}`,
    check: (c) => {
      const id = text(c, 'custodian', 32);
      text(c, 'name', 100);
      text(c, 'organisation', 100);
      if (!isCustodianRole(c.role)) throw new HalfkeyError('INVALID_PAYLOAD', 'The proposal names an unknown role.', { field: 'role' });
      if (custodians.get(id) !== null) throw new HalfkeyError('CONFLICT', `Custodian ${id} is already enrolled.`);
    },
    apply: async (c, run) => {
      if (run.newcomerPassphrase === undefined) {
        throw new HalfkeyError('INVALID_PAYLOAD', `${String(c.name)} must type their own passphrase to complete the enrolment.`, {
          field: 'newcomerPassphrase',
        });
      }
      const role = c.role;
      if (!isCustodianRole(role)) throw new HalfkeyError('INVALID_PAYLOAD', 'The proposal names an unknown role.', { field: 'role' });
      const prepared = await custodians.prepare(
        { name: String(c.name), organisation: String(c.organisation), role, passphrase: run.newcomerPassphrase },
        String(c.custodian),
      );
      let seq = -1;
      custodians.commit(prepared, run.approver, (data, newcomer) => {
        seq = run.commit({ signingKey: data.signingKey as string, boxKey: data.boxKey as string }, [newcomer]).seq;
      });
      return { seq };
    },
  };
}

/** `custodian.revoked` by proposal: an admin proposes, a second custodian (not the one revoked) approves. */
export function revocationChange(custodians: CustodianDirectory): ChangeKind {
  return {
    describe: (c) => `Revoke ${custodians.get(String(c.custodian))?.name ?? String(c.custodian)}: ${String(c.reason)}`,
    check: (c) => {
      text(c, 'reason', 500);
      const problem = custodians.revocationProblem(text(c, 'custodian', 32));
      if (problem !== null) throw problem;
      if (custodians.get(String(c.custodian))?.signingKey !== c.signingKey)
        throw new HalfkeyError('CONFLICT', 'The proposal names another signing key than the custodian holds.');
    },
    apply: (c, run) => {
      let seq = -1;
      custodians.applyRevocation(String(c.custodian), () => {
        seq = run.commit().seq;
      });
      return { seq };
    },
  };
}

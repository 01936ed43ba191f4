import type { ResponseOf } from '../../../shared/api/contract';

/**
 * The report's shapes as this screen's files pass them to one another, named once from the
 * channel's response (shared/reconcile/report.ts defines the schema).
 */
export type ReconcileResult = ResponseOf<'reconcile:run'>;
export type Finding = ReconcileResult['findings'][number];
export type CheckoutRef = NonNullable<Finding['password']>;

/** Who took a checkout, as a person reads it: the name, else the id; a device entry has neither. */
export function checkoutHolder(c: CheckoutRef): string {
  return c.custodianName ?? c.custodian ?? 'the device';
}

/** A count with its noun: "1 root action", "3 root actions". */
export function counted(count: number, one: string, many = `${one}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? one : many}`;
}

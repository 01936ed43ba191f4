/**
 * Root actions that matter to custody, recognised by event source and name. Each names the AWS
 * page the name comes from and whether the name is documented there as a CloudTrail event, or
 * only as an API operation (CloudTrail records every IAM and Account Management operation under
 * its operation name), or is not on an AWS page at all and is inferred from detection rules in
 * wide use: docs/reconciliation.md lists them in the same terms.
 */
export const CUSTODY_EVENT_KINDS = [
  'password-change',
  'password-recovery',
  'mfa-enabled',
  'mfa-removed',
  'mfa-resync',
  'access-key',
  'contact-change',
  'email-change',
] as const;
export type CustodyEventKind = (typeof CUSTODY_EVENT_KINDS)[number];

/** How firmly AWS documents the name as what CloudTrail records. */
export type NameSource = 'cloudtrail-event' | 'api-operation' | 'inferred';

export interface CustodyEventName {
  readonly source: string;
  readonly name: string;
  readonly kind: CustodyEventKind;
  readonly named: NameSource;
  /** The AWS page the name is taken from (or, for an inferred name, what it is inferred from). */
  readonly page: string;
}

const IAM_API =
  'IAM API Reference, Actions (docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html); recorded per "Logging IAM and AWS STS API calls with AWS CloudTrail"';
const ACCOUNT_API =
  'AWS Account Management API Reference (docs.aws.amazon.com/accounts/latest/reference/API_Operations.html); recorded per "Logging AWS Account Management API calls using AWS CloudTrail"';
const SIGNIN_INFERRED =
  'not found on the CloudTrail "AWS Management Console sign-in events" page as read; the name public root-activity detection rules match for signin.amazonaws.com';

const iam = (name: string, kind: CustodyEventKind): CustodyEventName => ({
  source: 'iam.amazonaws.com',
  name,
  kind,
  named: 'api-operation',
  page: IAM_API,
});
const account = (name: string, kind: CustodyEventKind): CustodyEventName => ({
  source: 'account.amazonaws.com',
  name,
  kind,
  named: 'api-operation',
  page: ACCOUNT_API,
});
const signin = (name: string, kind: CustodyEventKind): CustodyEventName => ({
  source: 'signin.amazonaws.com',
  name,
  kind,
  named: 'inferred',
  page: SIGNIN_INFERRED,
});

export const CUSTODY_EVENTS: readonly CustodyEventName[] = [
  signin('PasswordUpdated', 'password-change'),
  // Documented for IAM users; AWS says it does not change the root password, so a root identity
  // should never be recorded making it. If one is, it is still a password change to look at.
  iam('ChangePassword', 'password-change'),
  signin('PasswordRecoveryRequested', 'password-recovery'),
  signin('PasswordRecoveryCompleted', 'password-recovery'),
  iam('CreateVirtualMFADevice', 'mfa-enabled'),
  iam('EnableMFADevice', 'mfa-enabled'),
  iam('DeactivateMFADevice', 'mfa-removed'),
  iam('DeleteVirtualMFADevice', 'mfa-removed'),
  iam('ResyncMFADevice', 'mfa-resync'),
  iam('CreateAccessKey', 'access-key'),
  iam('UpdateAccessKey', 'access-key'),
  iam('DeleteAccessKey', 'access-key'),
  account('PutContactInformation', 'contact-change'),
  account('PutAlternateContact', 'contact-change'),
  account('DeleteAlternateContact', 'contact-change'),
  account('StartPrimaryEmailUpdate', 'email-change'),
  account('AcceptPrimaryEmailUpdate', 'email-change'),
];

const byKey = new Map(CUSTODY_EVENTS.map((e) => [`${e.source} ${e.name}`, e]));

/** The custody-relevant name an event has, or null for any other root action. */
export function custodyEventOf(source: string, name: string): CustodyEventName | null {
  return byKey.get(`${source} ${name}`) ?? null;
}

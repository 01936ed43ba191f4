import { parseAwsTime } from './aws-time';
import { custodyEventOf, type CustodyEventKind } from './custody-events';

/**
 * One CloudTrail record, read from the documented record format (AWS CloudTrail User Guide,
 * "CloudTrail record contents" and "CloudTrail userIdentity element"): who acted
 * (`userIdentity.type == "Root"` is the root user), when (`eventTime`), what (`eventSource`,
 * `eventName`), from where (`sourceIPAddress`, `userAgent`, `awsRegion`), how it ended
 * (`errorCode`, or `responseElements.ConsoleLogin` for a sign-in), and with which factor
 * (`additionalEventData.MFAUsed` on a sign-in, `sessionContext.attributes.mfaAuthenticated` on
 * a call). CloudTrail data is written partly by whoever made the call (the user agent above
 * all), so every string kept is cleaned for terminals and capped.
 */

/** Why a record could not be read; each is counted and listed with the file and index. */
export const SKIP_REASONS = [
  'NOT_AN_OBJECT',
  'NO_USER_IDENTITY',
  'NO_EVENT_TIME',
  'BAD_EVENT_TIME',
  'NO_ACCOUNT',
  'NO_EVENT_NAME',
  'BAD_LOOKUP_EVENT',
  'ACCOUNT_NOT_IN_VAULT',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** A root action as the reconciliation needs it; never a request parameter or response body. */
export interface RootEvent {
  readonly eventId: string | null;
  readonly time: number;
  readonly account: string;
  readonly region: string;
  readonly source: string;
  readonly name: string;
  readonly sourceIp: string;
  readonly userAgent: string;
  /** A console sign-in (`ConsoleLogin`). */
  readonly signIn: boolean;
  readonly outcome: 'success' | 'failure';
  readonly errorCode: string | null;
  readonly mfa: 'yes' | 'no' | 'unknown';
  /** `AKIA…` a long-term root access key, `ASIA…` temporary (console session) credentials. */
  readonly accessKey: 'long-term' | 'temporary' | null;
  readonly custody: CustodyEventKind | null;
  /** Where it was read: the file and the record's index in it. */
  readonly file: string;
  readonly record: number;
}

export type RecordOutcome =
  | { readonly kind: 'root'; readonly event: Omit<RootEvent, 'file' | 'record'> }
  /** Any other principal (IAM user, assumed role, AWS service) or an Insights record: counted, and its time marks what the logs cover. */
  | { readonly kind: 'other'; readonly account: string | null; readonly time: number }
  | { readonly kind: 'skipped'; readonly reason: SkipReason; readonly detail: string; readonly eventId: string | null };

const ACCOUNT_ID = /^\d{12}$/;
/** Control characters, and the bidirectional overrides that reorder what a terminal shows. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A string from a record, safe to print: controls replaced, at most `max` characters. */
export function cleanText(value: unknown, max = 256): string {
  if (typeof value !== 'string') return '';
  const text = value.replace(UNSAFE, '\uFFFD');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

type Json = Readonly<Record<string, unknown>>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const field = (object: unknown, key: string): unknown => (isObject(object) ? object[key] : undefined);

function mfaOf(record: Json, signIn: boolean): RootEvent['mfa'] {
  if (signIn) {
    const used = field(record.additionalEventData, 'MFAUsed');
    return used === 'Yes' ? 'yes' : used === 'No' ? 'no' : 'unknown';
  }
  // Written as the strings "true"/"false"; a boolean is taken too.
  const authenticated = field(field(field(record.userIdentity, 'sessionContext'), 'attributes'), 'mfaAuthenticated');
  if (authenticated === 'true' || authenticated === true) return 'yes';
  if (authenticated === 'false' || authenticated === false) return 'no';
  return 'unknown';
}

function accessKeyOf(identity: Json): RootEvent['accessKey'] {
  const key = identity.accessKeyId;
  if (typeof key !== 'string') return null;
  return key.startsWith('AKIA') ? 'long-term' : key.startsWith('ASIA') ? 'temporary' : null;
}

/** Reads one record: a root action, another principal's, or skipped with the reason. */
export function classifyRecord(record: unknown): RecordOutcome {
  if (!isObject(record))
    return {
      kind: 'skipped',
      reason: 'NOT_AN_OBJECT',
      detail: `the record is ${Array.isArray(record) ? 'an array' : record === null ? 'null' : `a ${typeof record}`}, not an object`,
      eventId: null,
    };
  const eventId = typeof record.eventID === 'string' ? cleanText(record.eventID, 128) : null;
  if (record.eventTime === undefined) return { kind: 'skipped', reason: 'NO_EVENT_TIME', detail: 'the record has no eventTime', eventId };
  const time = parseAwsTime(record.eventTime);
  if ('problem' in time) return { kind: 'skipped', reason: 'BAD_EVENT_TIME', detail: `eventTime: ${time.problem}`, eventId };
  const recipient =
    typeof record.recipientAccountId === 'string' && ACCOUNT_ID.test(record.recipientAccountId) ? record.recipientAccountId : null;
  // Insights records describe unusual call rates; they name no caller.
  if (record.eventType === 'AwsCloudTrailInsight') return { kind: 'other', account: recipient, time: time.ms };
  const identity = record.userIdentity;
  if (!isObject(identity))
    return {
      kind: 'skipped',
      reason: 'NO_USER_IDENTITY',
      detail: identity === undefined ? 'the record has no userIdentity' : 'userIdentity is not an object',
      eventId,
    };
  const ownAccount = typeof identity.accountId === 'string' && ACCOUNT_ID.test(identity.accountId) ? identity.accountId : null;
  if (identity.type !== 'Root') return { kind: 'other', account: recipient ?? ownAccount, time: time.ms };

  // The root user acts in its own account: userIdentity.accountId, else the account that received the record.
  const account = ownAccount ?? recipient;
  if (account === null)
    return {
      kind: 'skipped',
      reason: 'NO_ACCOUNT',
      detail: 'a root record names no 12-digit account (userIdentity.accountId, recipientAccountId)',
      eventId,
    };
  if (typeof record.eventName !== 'string' || record.eventName.length === 0)
    return { kind: 'skipped', reason: 'NO_EVENT_NAME', detail: 'a root record has no eventName', eventId };
  const name = cleanText(record.eventName, 128);
  const source = cleanText(record.eventSource, 128);
  const signIn = name === 'ConsoleLogin';
  const signInResult = field(record.responseElements, 'ConsoleLogin');
  const errorCode = typeof record.errorCode === 'string' ? cleanText(record.errorCode, 128) : null;
  const failed = signIn
    ? signInResult === 'Failure' || (signInResult !== 'Success' && typeof record.errorMessage === 'string')
    : errorCode !== null;
  return {
    kind: 'root',
    event: {
      eventId,
      time: time.ms,
      account,
      region: cleanText(record.awsRegion, 64),
      source,
      name,
      sourceIp: cleanText(record.sourceIPAddress, 128),
      userAgent: cleanText(record.userAgent, 512),
      signIn,
      outcome: failed ? 'failure' : 'success',
      errorCode: errorCode ?? (signIn && failed ? cleanText(record.errorMessage, 128) || 'Failure' : null),
      mfa: mfaOf(record, signIn),
      accessKey: accessKeyOf(identity),
      custody: custodyEventOf(source, name)?.kind ?? null,
    },
  };
}

/**
 * The record inside one item of `aws cloudtrail lookup-events` output: `CloudTrailEvent` is the
 * record as a JSON string. Its own eventID and eventTime are authoritative; the item's `EventId`
 * and `EventTime` fill in only where the record lacks them.
 */
export function recordOfLookupEvent(item: unknown): { readonly record: unknown } | { readonly problem: string } {
  if (!isObject(item)) return { problem: 'the Events item is not an object' };
  if (typeof item.CloudTrailEvent !== 'string') return { problem: 'the Events item has no CloudTrailEvent string' };
  let record: unknown;
  try {
    record = JSON.parse(item.CloudTrailEvent);
  } catch {
    return { problem: 'CloudTrailEvent is not JSON' };
  }
  if (!isObject(record)) return { record };
  const filled: Record<string, unknown> = { ...record };
  if (filled.eventID === undefined && typeof item.EventId === 'string') filled.eventID = item.EventId;
  if (filled.eventTime === undefined && item.EventTime !== undefined) filled.eventTime = item.EventTime;
  return { record: filled };
}

/** What a parsed file holds: a log file's records, lookup-events output, a digest file, or neither. */
export type LogShape =
  | { readonly kind: 'log-file'; readonly records: readonly unknown[] }
  | { readonly kind: 'lookup-events'; readonly events: readonly unknown[] }
  | { readonly kind: 'digest' }
  | { readonly kind: 'bad'; readonly reason: string };

export function logShapeOf(json: unknown): LogShape {
  if (!isObject(json))
    return {
      kind: 'bad',
      reason: `the JSON is ${Array.isArray(json) ? 'an array' : json === null ? 'null' : `a ${typeof json}`}, not an object with a Records array`,
    };
  if (json.Records !== undefined) {
    return Array.isArray(json.Records) ? { kind: 'log-file', records: json.Records } : { kind: 'bad', reason: 'Records is not an array' };
  }
  if (json.Events !== undefined) {
    return Array.isArray(json.Events) ? { kind: 'lookup-events', events: json.Events } : { kind: 'bad', reason: 'Events is not an array' };
  }
  // Log file integrity validation writes digest files beside the logs (CloudTrail-Digest/).
  if (typeof json.digestStartTime === 'string' && Array.isArray(json.logFiles)) return { kind: 'digest' };
  return {
    kind: 'bad',
    reason: 'the JSON has no Records array (a CloudTrail log file) and no Events array (aws cloudtrail lookup-events output)',
  };
}

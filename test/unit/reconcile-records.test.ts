import { describe, expect, it } from 'vitest';
import { isoTime, parseAwsTime } from '../../shared/reconcile/aws-time';
import { classifyRecord, logShapeOf, recordOfLookupEvent, type RecordOutcome } from '../../shared/reconcile/cloudtrail-record';
import { CUSTODY_EVENTS, custodyEventOf } from '../../shared/reconcile/custody-events';

// Reading single CloudTrail records and times, as the documented record format writes them.

const ms = (text: string): number => Date.parse(text);
const root = {
  type: 'Root',
  principalId: '123456789012',
  arn: 'arn:aws:iam::123456789012:root',
  accountId: '123456789012',
  accessKeyId: '',
};
const signIn = (
  result: 'Success' | 'Failure' | null,
  mfa: 'Yes' | 'No' | null,
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  eventVersion: '1.09',
  userIdentity: root,
  eventTime: '2026-01-02T03:04:05Z',
  eventSource: 'signin.amazonaws.com',
  eventName: 'ConsoleLogin',
  awsRegion: 'us-east-1',
  sourceIPAddress: '192.0.2.1',
  userAgent: 'Mozilla/5.0',
  requestParameters: null,
  responseElements: result === null ? null : { ConsoleLogin: result },
  additionalEventData: mfa === null ? {} : { MFAUsed: mfa },
  eventID: 'e-1',
  eventType: 'AwsConsoleSignIn',
  recipientAccountId: '123456789012',
  ...extra,
});
const rootEvent = (outcome: RecordOutcome) => {
  if (outcome.kind !== 'root') throw new Error(`expected a root action, got ${JSON.stringify(outcome)}`);
  return outcome.event;
};

describe('times in the ISO-8601 forms AWS writes', () => {
  it('reads eventTime with Z, fractional seconds, numeric offsets with and without a colon, and epoch seconds', () => {
    const cases: [unknown, number][] = [
      ['2026-01-02T03:04:05Z', ms('2026-01-02T03:04:05Z')],
      ['2026-01-02T03:04:05.123Z', ms('2026-01-02T03:04:05.123Z')],
      ['2026-01-02T03:04:05.123456789Z', ms('2026-01-02T03:04:05.123Z')],
      ['2026-01-02T04:04:05+01:00', ms('2026-01-02T03:04:05Z')],
      ['2026-01-01T19:04:05-0800', ms('2026-01-02T03:04:05Z')],
      ['2026-01-02T03:04:05+00:00', ms('2026-01-02T03:04:05Z')],
      [1767323045, ms('2026-01-02T03:04:05Z')],
      [1767323045.5, ms('2026-01-02T03:04:05.500Z')],
      ['2024-02-29T00:00:00Z', ms('2024-02-29T00:00:00Z')],
    ];
    for (const [input, want] of cases) expect(parseAwsTime(input), String(input)).toEqual({ ms: want });
  });

  it('refuses anything else with the reason, never guessing a zone', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /missing/],
      [null, /null, not an ISO-8601 string/],
      ['2026-01-02', /not ISO-8601/],
      ['2026-01-02 03:04:05', /not ISO-8601/],
      ['2026-01-02T03:04:05', /not ISO-8601/],
      ['Fri, 02 Jan 2026 03:04:05 GMT', /not ISO-8601/],
      ['2026-02-30T00:00:00Z', /day its month does not have/],
      ['2025-02-29T00:00:00Z', /day its month does not have/],
      ['2026-13-01T00:00:00Z', /out of range/],
      ['2026-01-02T24:00:00Z', /out of range/],
      ['2026-01-02T23:59:60Z', /out of range/],
      ['2026-01-02T03:04:05+25:00', /offset out of range/],
      ['1999-12-31T23:59:59Z', /outside 2000/],
      [Number.NaN, /not a finite number/],
      [{ t: 1 }, /object/],
    ];
    for (const [input, reason] of cases) {
      const got = parseAwsTime(input);
      expect('problem' in got ? got.problem : 'accepted', String(input)).toMatch(reason);
    }
  });

  it('writes times back as ISO-8601 UTC, with milliseconds only when there are some', () => {
    expect(isoTime(ms('2026-01-02T03:04:05Z'))).toBe('2026-01-02T03:04:05Z');
    expect(isoTime(ms('2026-01-02T03:04:05.250Z'))).toBe('2026-01-02T03:04:05.250Z');
  });
});

describe('root activity from the documented record format', () => {
  it('reads a console sign-in: success or failure from responseElements.ConsoleLogin, MFA from additionalEventData.MFAUsed', () => {
    expect(rootEvent(classifyRecord(signIn('Success', 'Yes')))).toMatchObject({
      signIn: true,
      outcome: 'success',
      mfa: 'yes',
      errorCode: null,
      account: '123456789012',
      time: ms('2026-01-02T03:04:05Z'),
    });
    expect(rootEvent(classifyRecord(signIn('Success', 'No')))).toMatchObject({ outcome: 'success', mfa: 'no' });
    expect(rootEvent(classifyRecord(signIn('Failure', 'No', { errorMessage: 'Failed authentication' })))).toMatchObject({
      outcome: 'failure',
      errorCode: 'Failed authentication',
      mfa: 'no',
    });
    // A failure recorded only by its errorMessage is still a failure.
    expect(rootEvent(classifyRecord(signIn(null, null, { errorMessage: 'Failed authentication' })))).toMatchObject({
      outcome: 'failure',
      mfa: 'unknown',
    });
  });

  it('reads a root API call: MFA from sessionContext.attributes.mfaAuthenticated, the kind of access key, the error code', () => {
    const call = (identity: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      rootEvent(
        classifyRecord({
          userIdentity: identity,
          eventTime: '2026-01-02T03:04:05Z',
          eventSource: 'iam.amazonaws.com',
          eventName: 'ListUsers',
          eventID: 'x',
          ...extra,
        }),
      );
    const session = (mfa: unknown) => ({
      ...root,
      accessKeyId: 'ASIAEXAMPLE',
      sessionContext: { attributes: { creationDate: '2026-01-02T03:00:00Z', mfaAuthenticated: mfa } },
    });
    expect(call(session('true'))).toMatchObject({ signIn: false, mfa: 'yes', accessKey: 'temporary', outcome: 'success' });
    expect(call(session('false'))).toMatchObject({ mfa: 'no' });
    expect(call(session(true))).toMatchObject({ mfa: 'yes' });
    expect(call({ ...root, accessKeyId: 'AKIAEXAMPLE' })).toMatchObject({ mfa: 'unknown', accessKey: 'long-term' });
    expect(call(root, { errorCode: 'AccessDenied', errorMessage: 'denied' })).toMatchObject({
      outcome: 'failure',
      errorCode: 'AccessDenied',
    });
  });

  it('names the custody-relevant actions by source and name, and no others', () => {
    for (const e of CUSTODY_EVENTS)
      expect(
        rootEvent(classifyRecord({ userIdentity: root, eventTime: '2026-01-02T03:04:05Z', eventSource: e.source, eventName: e.name }))
          .custody,
      ).toBe(e.kind);
    expect(custodyEventOf('iam.amazonaws.com', 'ListUsers')).toBeNull();
    // The same name from another service is not the custody event.
    expect(custodyEventOf('ec2.amazonaws.com', 'CreateAccessKey')).toBeNull();
    expect(CUSTODY_EVENTS.every((e) => e.page.length > 20)).toBe(true);
  });

  it('counts other principals (IAM user, assumed role, AWS service, Insights) with their account and time, never as root', () => {
    const other = (identity: unknown, extra: Record<string, unknown> = {}) =>
      classifyRecord({
        userIdentity: identity,
        eventTime: '2026-01-02T03:04:05Z',
        eventName: 'X',
        recipientAccountId: '210987654321',
        ...extra,
      });
    expect(other({ type: 'IAMUser', accountId: '210987654321', userName: 'alice' })).toEqual({
      kind: 'other',
      account: '210987654321',
      time: ms('2026-01-02T03:04:05Z'),
    });
    expect(other({ type: 'AssumedRole', arn: 'arn:aws:sts::210987654321:assumed-role/R/s' })).toMatchObject({ kind: 'other' });
    expect(other({ invokedBy: 'kms.amazonaws.com' }, { eventType: 'AwsServiceEvent' })).toMatchObject({ kind: 'other' });
    expect(
      classifyRecord({ eventType: 'AwsCloudTrailInsight', eventTime: '2026-01-02T03:04:05Z', recipientAccountId: '210987654321' }),
    ).toMatchObject({ kind: 'other', account: '210987654321' });
  });

  it('skips what cannot be read, with the reason', () => {
    const skip = (record: unknown) => {
      const o = classifyRecord(record);
      return o.kind === 'skipped' ? o.reason : o.kind;
    };
    expect(skip('text')).toBe('NOT_AN_OBJECT');
    expect(skip([1])).toBe('NOT_AN_OBJECT');
    expect(skip({ eventTime: '2026-01-02T03:04:05Z' })).toBe('NO_USER_IDENTITY');
    expect(skip({ userIdentity: 'Root', eventTime: '2026-01-02T03:04:05Z' })).toBe('NO_USER_IDENTITY');
    expect(skip({ userIdentity: root })).toBe('NO_EVENT_TIME');
    expect(skip({ userIdentity: root, eventTime: '2026-01-02' })).toBe('BAD_EVENT_TIME');
    expect(skip({ userIdentity: { type: 'Root' }, eventTime: '2026-01-02T03:04:05Z', eventName: 'X' })).toBe('NO_ACCOUNT');
    expect(skip({ userIdentity: { type: 'Root', accountId: '12345' }, eventTime: '2026-01-02T03:04:05Z', eventName: 'X' })).toBe(
      'NO_ACCOUNT',
    );
    expect(skip({ userIdentity: root, eventTime: '2026-01-02T03:04:05Z' })).toBe('NO_EVENT_NAME');
    // A root record without userIdentity.accountId takes the account that received it.
    expect(
      rootEvent(
        classifyRecord({
          userIdentity: { type: 'Root' },
          recipientAccountId: '123456789012',
          eventTime: '2026-01-02T03:04:05Z',
          eventName: 'X',
        }),
      ).account,
    ).toBe('123456789012');
  });

  it('keeps only printable, capped text from what callers wrote (a user agent can carry terminal escapes)', () => {
    const e = rootEvent(
      classifyRecord(signIn('Success', 'Yes', { userAgent: `evil\u001b[2J\u202e${'x'.repeat(2000)}`, sourceIPAddress: 'a\nb' })),
    );
    expect(e.userAgent.includes('\u001b') || e.userAgent.includes('\u202e')).toBe(false);
    expect(e.userAgent.length).toBe(512);
    expect(e.userAgent.endsWith('…')).toBe(true);
    expect(e.sourceIp).toBe('a\uFFFDb');
  });
});

describe('the two input formats', () => {
  it('tells a log file, lookup-events output, a digest file and anything else apart', () => {
    expect(logShapeOf({ Records: [] })).toEqual({ kind: 'log-file', records: [] });
    expect(logShapeOf({ Events: [1], NextToken: 'n' })).toEqual({ kind: 'lookup-events', events: [1] });
    expect(logShapeOf({ digestStartTime: '2026-01-02T00:00:00Z', logFiles: [] })).toEqual({ kind: 'digest' });
    expect(logShapeOf({ Records: {} })).toEqual({ kind: 'bad', reason: 'Records is not an array' });
    expect(logShapeOf([{}])).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/an array, not an object/) });
    expect(logShapeOf({ other: 1 })).toMatchObject({ kind: 'bad', reason: expect.stringMatching(/no Records array/) });
  });

  it('reads the record inside a lookup-events item, its own eventID and eventTime first', () => {
    const record = { eventID: 'inner', eventTime: '2026-01-02T03:04:05Z', userIdentity: root, eventName: 'X' };
    expect(
      recordOfLookupEvent({ EventId: 'outer', EventTime: '2026-01-02T09:00:00+01:00', CloudTrailEvent: JSON.stringify(record) }),
    ).toEqual({ record });
    const bare = { userIdentity: root, eventName: 'X' };
    expect(
      recordOfLookupEvent({ EventId: 'outer', EventTime: '2026-01-02T04:04:05+01:00', CloudTrailEvent: JSON.stringify(bare) }),
    ).toEqual({ record: { ...bare, eventID: 'outer', eventTime: '2026-01-02T04:04:05+01:00' } });
    expect(recordOfLookupEvent({ CloudTrailEvent: '{not json' })).toEqual({ problem: 'CloudTrailEvent is not JSON' });
    expect(recordOfLookupEvent({ EventId: 'x' })).toEqual({ problem: 'the Events item has no CloudTrailEvent string' });
    expect(recordOfLookupEvent(3)).toEqual({ problem: 'the Events item is not an object' });
  });
});

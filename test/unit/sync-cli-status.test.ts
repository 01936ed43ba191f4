import { describe, expect, it } from 'vitest';
import { describeStatus } from '../../electron/cli/sync';
import type { SyncStatus } from '../../electron/sync/client';

const base: SyncStatus = {
  state: 'idle',
  pending: 0,
  lastError: null,
  serverFingerprint: 'ab12 cd34',
  serverUrl: 'https://journal.example',
  ackedSeq: 41,
  lastSuccessAt: 1,
  lastTreeSize: 90,
  nextAttemptAt: null,
  serverLogInconsistency: null,
};

describe('halfkey sync status lines', () => {
  it('names a recorded server-log inconsistency with its reason and journal seq, and says nothing of one when there is none', () => {
    expect(describeStatus(base)).not.toMatch(/inconsistent/);
    const text = describeStatus({
      ...base,
      serverLogInconsistency: {
        code: 'LOG_INCONSISTENT',
        reason: 'LOG_SHRANK',
        message: 'the server signed a log of 10 entries after one of 90',
        seq: 42,
        time: 2,
      },
    });
    expect(text).toContain('server log inconsistent (LOG_SHRANK, journal seq 42): the server signed a log of 10 entries after one of 90');
    expect(text).toContain('server key fingerprint: ab12 cd34');
  });
});

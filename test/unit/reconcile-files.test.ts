import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CustodyTimelineBuilder } from '../../shared/reconcile/custody-timeline';
import { reconcile } from '../../shared/reconcile/reconcile';
import { reportText } from '../../shared/reconcile/report-text';
import { cloudTrailFiles } from '../../electron/reconcile/cloudtrail-files';
import { scanLogFile } from '../../electron/reconcile/log-file';
import { scanCloudTrail } from '../../electron/reconcile/scan-pool';

// Real files on disk, real gzip, real worker threads: every bad file is reported with its
// reason, one bad file never stops the others, and the workers agree with the single thread.

let dir: string;
const at = (...parts: string[]): string => join(dir, ...parts);
const rootLogin = (id: string, time = '2026-01-02T03:04:05Z') => ({
  userIdentity: { type: 'Root', accountId: '123456789012' },
  eventTime: time,
  eventSource: 'signin.amazonaws.com',
  eventName: 'ConsoleLogin',
  eventID: id,
  responseElements: { ConsoleLogin: 'Success' },
});
const log = (...records: unknown[]): string => JSON.stringify({ Records: records });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'halfkey-ct-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading one CloudTrail file', () => {
  it('reads gzip by its content, whatever the name, and plain JSON named .json.gz (a browser download that was already unpacked)', async () => {
    writeFileSync(at('a.json.gz'), gzipSync(log(rootLogin('a'))));
    writeFileSync(at('b.json.gz'), log(rootLogin('b')));
    writeFileSync(at('c.json'), gzipSync(log(rootLogin('c'))));
    writeFileSync(at('bom.json'), `\ufeff${log(rootLogin('d'))}`);
    for (const [name, id] of [
      ['a.json.gz', 'a'],
      ['b.json.gz', 'b'],
      ['c.json', 'c'],
      ['bom.json', 'd'],
    ] as const) {
      const scan = await scanLogFile(at(name));
      expect(scan, name).toMatchObject({ status: 'read', records: 1 });
      expect(scan.root.map((e) => e.eventId)).toEqual([id]);
    }
  });

  it('reports a file that is empty, not gzip and not JSON, gzip cut short, gzip of something not JSON, or too large', async () => {
    const full = gzipSync(log(rootLogin('x'), rootLogin('y')));
    writeFileSync(at('empty.json'), '');
    writeFileSync(at('text.json.gz'), 'not a log at all');
    writeFileSync(at('cut.json.gz'), full.subarray(0, full.length - 12));
    writeFileSync(at('gz-text.json.gz'), gzipSync('hello'));
    writeFileSync(at('big.json'), log(rootLogin('z'.repeat(3000))));
    writeFileSync(at('big.json.gz'), gzipSync(log(rootLogin('z'.repeat(3000)))));
    const reason = async (name: string, maxBytes?: number): Promise<string> => {
      const scan = await scanLogFile(at(name), maxBytes);
      expect(scan.status, name).toBe('bad');
      expect(scan.records).toBe(0);
      return scan.reason ?? '';
    };
    expect(await reason('empty.json')).toBe('the file is empty');
    expect(await reason('text.json.gz')).toMatch(/^neither gzip-compressed nor JSON/);
    expect(await reason('cut.json.gz')).toMatch(/^gzip data is corrupt or cut short/);
    expect(await reason('gz-text.json.gz')).toMatch(/^gzip-compressed, but the content is not JSON/);
    expect(await reason('big.json', 1024)).toBe('larger than 1024 bytes: refused (split it, or check it is a CloudTrail log file)');
    expect(await reason('big.json.gz', 1024)).toMatch(/once decompressed: refused/);
  });
});

describe('walking the paths given', () => {
  it('walks folders recursively, reads only .json and .json.gz there, reads a named file whatever its name, and follows no link', async () => {
    const tree = at('tree');
    mkdirSync(join(tree, 'AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02'), { recursive: true });
    writeFileSync(join(tree, 'AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02/one.json.gz'), gzipSync(log(rootLogin('one'))));
    writeFileSync(join(tree, 'AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02/two.json'), log(rootLogin('two')));
    writeFileSync(join(tree, 'README.md'), '# logs');
    symlinkSync(join(tree, 'AWSLogs'), join(tree, 'loop'));
    writeFileSync(at('named.log'), log(rootLogin('named')));
    const found: string[] = [];
    for await (const f of cloudTrailFiles([tree, at('named.log')]))
      found.push(
        'read' in f ? `read ${f.read.slice(dir.length)}` : `${f.passed.status} ${f.passed.path.slice(dir.length)}: ${f.passed.reason}`,
      );
    expect(found.sort()).toEqual([
      'ignored /tree/README.md: not named .json or .json.gz (name the file itself to read it anyway)',
      'ignored /tree/loop: a symbolic link: not followed in a folder (name its target to read it)',
      'read /named.log',
      'read /tree/AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02/one.json.gz',
      'read /tree/AWSLogs/123456789012/CloudTrail/us-east-1/2026/01/02/two.json',
    ]);
  });

  it('reads the same on worker threads as on this thread, a bad file among good ones stopping nothing', async () => {
    const many = at('many');
    mkdirSync(many);
    for (let i = 0; i < 40; i++) {
      const records = [
        rootLogin(`r${i}`, `2026-01-02T03:${String(i).padStart(2, '0')}:00Z`),
        { userIdentity: { type: 'IAMUser', accountId: '123456789012' }, eventTime: '2026-01-02T03:04:05Z', eventName: 'ListUsers' },
      ];
      writeFileSync(join(many, `f${i}.json.gz`), i === 17 ? Buffer.from('garbage') : gzipSync(log(...records)));
    }
    // The same event in two files (a global event in two trails) is one root event.
    writeFileSync(join(many, 'dup.json'), log(rootLogin('r3', '2026-01-02T03:03:00Z')));
    const one = (await scanCloudTrail([many], { workers: 0 })).totals;
    const pooled = await scanCloudTrail([many], { workers: 3 });
    expect(pooled.workers).toBe(3);
    const key = (t: typeof one) => ({ ...t, root: [...t.root].map((e) => e.eventId).sort() });
    expect(key(pooled.totals)).toEqual(key(one));
    expect(one).toMatchObject({
      files: 41,
      filesRead: 40,
      filesBad: 1,
      records: 79,
      rootRecords: 40,
      duplicateRootRecords: 1,
      otherRecords: 39,
    });
    expect(one.root).toHaveLength(39);
    expect(one.badFiles).toEqual([{ path: join(many, 'f17.json.gz'), reason: expect.stringMatching(/neither gzip-compressed nor JSON/) }]);
    expect(one.coverage).toEqual([
      { account: '123456789012', from: Date.parse('2026-01-02T03:00:00Z'), to: Date.parse('2026-01-02T03:39:00Z') },
    ]);
  });

  it("never lets a file name or a file's bytes put a control character on the terminal", async () => {
    const hostile = at('hostile');
    mkdirSync(hostile);
    writeFileSync(join(hostile, 'evil\u001b[2J.json'), '\u001b[31m{ not json');
    const { totals } = await scanCloudTrail([hostile], { workers: 0 });
    expect(totals.badFiles).toHaveLength(1);
    const text = reportText(
      reconcile(new CustodyTimelineBuilder().finish(), totals, {
        slackMs: 0,
        journal: { kind: 'bundle', path: '/j', devices: 1 },
        workers: 0,
      }),
    );
    expect(text).toContain('evil\uFFFD[2J.json: neither gzip-compressed nor JSON');
    expect(text.includes('\u001b')).toBe(false);
  });
});

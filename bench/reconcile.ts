// Reconciling CloudTrail logs against a journal bundle (`reconcile:run`, what `halfkey reconcile`
// calls), printed as a ratio to raw gunzip + JSON.parse of the same files measured in the same
// run: on one thread, and on as many threads as the reconciliation uses (the fair comparison,
// since it reads on every core). Peak RSS is sampled during the reconciliation; each size runs in
// a process of its own, so the figures for growing inputs can be compared (memory should stay
// flat: files are read one per worker at a time and only root actions are kept).
// Run: npm run bench -- reconcile [--mb 256,1024] [--file-mb 1] [--workers N] [--root-every 500]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { gunzipSync, gzipSync } from 'node:zlib';
import { sodiumReady } from '../shared/sodium';
import { exportJournal } from '../electron/journal/export';
import { runReconcile } from '../electron/reconcile/reconcile-service';
import { TestJournal } from '../test/support/journal-builder';

const { values } = parseArgs({
  options: {
    mb: { type: 'string' },
    'file-mb': { type: 'string' },
    workers: { type: 'string' },
    'root-every': { type: 'string' },
    one: { type: 'string' },
  },
  strict: true,
});
// --one DIR (internal): measure the input prepared in DIR, in this fresh process.
const FILE_MB = Number(values['file-mb'] ?? 1);
const WORKERS = Number(values.workers ?? availableParallelism());
const ROOT_EVERY = Number(values['root-every'] ?? 500);
const ACCOUNT = '111111111111';
const DAY = Date.parse('2026-01-02T00:00:00Z');

/** One noise record (an assumed role's API call) of about the size real ones have, and a root call now and then. */
function record(file: number, i: number): string {
  const time = new Date(DAY + ((file * 997 + i * 13) % 86_400) * 1000).toISOString().replace('.000Z', 'Z');
  const id = `${file.toString(16).padStart(8, '0')}-${i.toString(16).padStart(4, '0')}-4a1b-8c2d-3e4f5a6b7c8d`;
  const identity =
    i % ROOT_EVERY === 0
      ? `{"type":"Root","principalId":"${ACCOUNT}","arn":"arn:aws:iam::${ACCOUNT}:root","accountId":"${ACCOUNT}","accessKeyId":"ASIAEXAMPLEROOTSESS1","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"${time}","mfaAuthenticated":"true"}}}`
      : `{"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID${i % 7}:worker-${i % 13}","arn":"arn:aws:sts::${ACCOUNT}:assumed-role/Deploy/worker-${i % 13}","accountId":"${ACCOUNT}","accessKeyId":"ASIAEXAMPLEROLE0000${i % 10}","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEROLEID${i % 7}","arn":"arn:aws:iam::${ACCOUNT}:role/Deploy","accountId":"${ACCOUNT}","userName":"Deploy"},"webIdFederationData":{},"attributes":{"creationDate":"${time}","mfaAuthenticated":"false"}}}`;
  return `{"eventVersion":"1.09","userIdentity":${identity},"eventTime":"${time}","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.${i % 250}","userAgent":"aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.141.0","requestParameters":{"instancesSet":{"items":[{"instanceId":"i-0abc${i}def0123456"}]},"filterSet":{},"maxResults":1000},"responseElements":null,"requestID":"${id}","eventID":"${id}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"${ACCOUNT}","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.us-east-1.amazonaws.com"}}`;
}

/** Writes gzipped log files totalling about `mb` MB of JSON, laid out as CloudTrail writes them to S3. */
function writeLogs(root: string, mb: number): void {
  const folder = join(root, `AWSLogs/${ACCOUNT}/CloudTrail/us-east-1/2026/01/02`);
  mkdirSync(folder, { recursive: true });
  const files = Math.max(1, Math.round(mb / FILE_MB));
  for (let f = 0; f < files; f++) {
    const records: string[] = [];
    let size = 0;
    for (let i = 0; size < FILE_MB * 1_000_000; i++) {
      const r = record(f, i);
      records.push(r);
      size += r.length + 1;
    }
    const text = `{"Records":[${records.join(',')}]}`;
    writeFileSync(
      join(folder, `${ACCOUNT}_CloudTrail_us-east-1_20260102T${String(f).padStart(6, '0')}Z_bench.json.gz`),
      gzipSync(text, { level: 1 }),
    );
  }
}

/** A real bundle with a checkout pair every hour of the day, so some root calls are explained and some not. */
function writeJournal(path: string): void {
  const journal = new TestJournal({ start: DAY - 86_400_000 });
  try {
    const pat = journal.enrol('pat', 17, { role: 'password-custodian' });
    const mia = journal.enrol('mia', 19, { role: 'mfa-custodian' });
    journal.store.append({ type: 'account.added', actor: pat, account: ACCOUNT, data: { alias: 'bench' } });
    for (let h = 0; h < 24; h += 2) {
      for (const [actor, item, at] of [
        [pat, 'password', 0],
        [mia, 'mfa', 60_000],
      ] as const) {
        journal.clock = DAY + h * 3_600_000 + at;
        journal.store.append({
          type: 'checkout.opened',
          actor,
          account: ACCOUNT,
          data: { checkout: `${h}-${item}`, item, reason: 'bench', ticket: null, leaseUntil: journal.clock + 3_600_000 },
        });
      }
      journal.clock = DAY + h * 3_600_000 + 1_800_000;
      for (const [actor, item] of [
        [pat, 'password'],
        [mia, 'mfa'],
      ] as const)
        journal.store.append({ type: 'checkout.closed', actor, account: ACCOUNT, data: { checkout: `${h}-${item}`, item } });
    }
    exportJournal(journal.store, { out: path, signer: journal.device, now: () => journal.clock });
  } finally {
    journal.close();
  }
}

/** The raw primitive on `threads` threads: read, gunzip and JSON.parse every file, nothing else. */
async function rawParallel(paths: readonly string[], threads: number): Promise<number> {
  const code = `const { parentPort } = require('node:worker_threads'); const { readFileSync } = require('node:fs'); const { gunzipSync } = require('node:zlib');
    parentPort.on('message', (p) => { const j = JSON.parse(gunzipSync(readFileSync(p)).toString('utf8')); parentPort.postMessage(j.Records.length); });`;
  const workers = Array.from({ length: threads }, () => new Worker(code, { eval: true }));
  const start = performance.now();
  let next = 0;
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          const take = (): void => {
            if (next >= paths.length) return resolve();
            w.postMessage(paths[next++]);
          };
          w.on('message', take);
          take();
        }),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return seconds;
}

/** Measures one prepared input (logs/ and journal.hkj in dir) in a fresh process. */
async function one(dir: string): Promise<void> {
  await sodiumReady();
  const folder = join(dir, 'logs', `AWSLogs/${ACCOUNT}/CloudTrail/us-east-1/2026/01/02`);
  const paths = readdirSync(folder).map((n) => join(folder, n));
  const base = process.memoryUsage.rss();
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const t0 = performance.now();
  const report = await runReconcile({
    journal: { kind: 'bundle', path: join(dir, 'journal.hkj') },
    cloudtrail: [join(dir, 'logs')],
    slackSeconds: 300,
    workers: WORKERS,
  });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage.rss());
  if (report.counts.filesRead !== paths.length || report.counts.filesBad !== 0)
    throw new Error(`the bench logs did not all read: ${JSON.stringify(report.counts)}`);

  const t1 = performance.now();
  let records = 0;
  let bytes = 0;
  for (const p of paths) {
    const text = gunzipSync(readFileSync(p)).toString('utf8');
    bytes += text.length;
    records += (JSON.parse(text) as { Records: unknown[] }).Records.length;
  }
  const raw1 = (performance.now() - t1) / 1000;
  const rawN = await rawParallel(paths, WORKERS);
  if (records !== report.counts.records) throw new Error(`raw read ${records} records, the reconciliation ${report.counts.records}`);
  const mbps = (s: number): string => (bytes / 1e6 / s).toFixed(0);
  console.log(
    `${(bytes / 1e6).toFixed(0)} MB JSON in ${paths.length} gzipped files, ${report.counts.records.toLocaleString('en-US')} records (${report.counts.rootEvents} root): ` +
      `reconcile ${seconds.toFixed(2)} s = ${mbps(seconds)} MB/s on ${report.counts.workers} worker threads; ` +
      `raw gunzip+JSON.parse ${raw1.toFixed(2)} s on 1 thread (${(raw1 / seconds).toFixed(2)}x), ${rawN.toFixed(2)} s on ${WORKERS} threads (${(rawN / seconds).toFixed(2)}x); ` +
      `peak RSS during reconcile ${(peak / 2 ** 20).toFixed(0)} MiB (${(base / 2 ** 20).toFixed(0)} MiB before)`,
  );
}

if (values.one !== undefined) {
  await one(values.one);
} else {
  console.log(
    `CloudTrail reconciliation, ${WORKERS} worker threads, ${FILE_MB} MB files, a root call every ${ROOT_EVERY} records (ratio = raw time / reconcile time; 1.00x is as fast as the raw read)`,
  );
  await sodiumReady();
  for (const mb of (values.mb ?? '256,1024').split(',').map(Number)) {
    const dir = mkdtempSync(join(tmpdir(), 'halfkey-bench-reconcile-'));
    try {
      writeLogs(join(dir, 'logs'), mb);
      writeJournal(join(dir, 'journal.hkj'));
      // Measured in a fresh process: RSS never shrinks back, so neither the generation here nor a smaller size run before may count.
      const run = spawnSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--one', dir, '--workers', String(WORKERS)],
        { stdio: 'inherit' },
      );
      if (run.status !== 0) process.exit(run.status ?? 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

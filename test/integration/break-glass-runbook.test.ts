import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiResult } from '../../shared/api/result';
import { plain, runbookBlocks } from '../../shared/break-glass/runbook';
import { parseBase32Secret } from '../../shared/otp/base32';
import { openAppServices, type AppServices } from '../../electron/app/app-services';
import { createHandlerTable } from '../../electron/app/handlers';
import { createRouter, type ApiRouter } from '../../electron/app/router';
import { HALF_PASSWORD, HALF_SEED, openCustodyFixture, PASSPHRASES, type CustodyFixture } from '../support/custody-fixture';
import { halfkeyIn, requireKeyring } from '../support/halfkey-cli';
import { byteMarker, leaksInBytes, leaksInText, textMarker } from '../support/leak-scan';
import { flat, pdfLines } from '../support/pdf-text';

// The runbook PDF of one account through the real router and app services on a real vault (SQLite
// file, OS keychain through build/with-keyring.sh), then through the real `halfkey` CLI: it parses
// back with pdf-lib, names the account and its custodians, prints every step, holds no secret of
// the account, and a bad request leaves nothing behind.

let f: CustodyFixture;
let services: AppServices | undefined;
let router: ApiRouter;
let accountId = '';
let out = '';
const halfkey = halfkeyIn(() => f.dir);

async function call(channel: string, payload: unknown): Promise<ApiResult<Record<string, unknown>>> {
  return (await router.call(channel, payload, { adapter: 'test' })) as ApiResult<Record<string, unknown>>;
}

/** Every secret the account and its custodians have: the halves in each form, and each passphrase. */
const SECRETS = [
  textMarker('password half', HALF_PASSWORD),
  byteMarker('MFA seed', parseBase32Secret(HALF_SEED), [HALF_SEED, HALF_SEED.toLowerCase()]),
  ...Object.entries(PASSPHRASES).map(([name, passphrase]) => textMarker(`${name}'s passphrase`, passphrase)),
];

/** The PDFs and `.part` files in `dir`. */
const written = (dir: string): string[] => readdirSync(dir).filter((name) => /\.pdf|\.part/.test(name));

beforeAll(async () => {
  requireKeyring();
  f = await openCustodyFixture({ only: ['pat', 'mia'] });
  accountId = await f.fullAccount();
  await f.custody.close();
  f.vault.close();
  services = await openAppServices({ mode: 'preview', vaultDir: f.dir });
  router = createRouter(createHandlerTable(services));
  const open = await call('vault:open', {});
  if (!open.ok) throw new Error(`vault:open failed: ${open.error.message}`);
  out = join(f.dir, 'printed');
  mkdirSync(out);
}, 180_000);

afterAll(async () => {
  await services?.close();
  await f?.close();
});

describe('break-glass:runbook', () => {
  it('writes the account’s runbook: it parses, names the account and who holds which half, prints every step, holds no secret', async () => {
    const file = join(out, 'runbook.pdf');
    // Nobody is unlocked: the sheet needs no passphrase.
    const result = await call('break-glass:runbook', { accountId, out: file });
    expect(result).toMatchObject({
      ok: true,
      value: {
        out: file,
        accountId,
        alias: `acct-${accountId}`,
        holders: {
          password: [{ custodianId: f.ids.pat, organisation: 'Customer' }],
          mfa: [{ custodianId: f.ids.mia, organisation: 'Provider' }],
        },
      },
    });
    const bytes = readFileSync(file);
    expect(result.ok && result.value.bytes).toBe(bytes.length);
    expect(written(out)).toEqual(['runbook.pdf']);

    const { pages, lines, title } = await pdfLines(bytes);
    expect(pages).toBe(1);
    expect(title).toContain(accountId);
    const text = flat(lines);
    const names = result.ok ? (result.value.holders as { password: { name: string }[]; mfa: { name: string }[] }) : null;
    expect(text).toContain(`Break-glass runbook: account ${accountId} (acct-${accountId})`);
    expect(text).toContain(`Password half: ${names?.password[0]?.name ?? '?'} (Customer)`);
    expect(text).toContain(`MFA half: ${names?.mfa[0]?.name ?? '?'} (Provider)`);
    for (const block of runbookBlocks(accountId)) expect(text, block.text).toContain(block.text.replaceAll('→', '->'));
    expect(text).toContain(`halfkey break-glass use-mfa --vault DIR --as YOUR_ID --account ${accountId}`);

    // A real reader (poppler) sees the same page.
    const read = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    expect(read).toContain(accountId);
    expect(read).toContain(plain('**4. At AWS, signed in as root**'));

    // No secret, in the drawn text or anywhere in the file's bytes.
    expect(leaksInText(text, SECRETS)).toEqual([]);
    expect(leaksInText(read, SECRETS)).toEqual([]);
    expect(leaksInBytes(bytes, SECRETS)).toEqual([]);
  });

  it('replaces an older runbook at the same path whole', async () => {
    const file = join(out, 'again.pdf');
    writeFileSync(file, 'an older sheet');
    expect(await call('break-glass:runbook', { accountId, out: file })).toMatchObject({ ok: true });
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('%PDF-');
    expect(existsSync(`${file}.part`)).toBe(false);
  });

  it('refuses a bad account id, an unknown account, a relative path or a non-PDF name, and leaves nothing half-written', async () => {
    const before = written(out);
    const cases: [unknown, string, string | RegExp][] = [
      [{ accountId: '12345', out: join(out, 'a.pdf') }, 'INVALID_PAYLOAD', /an AWS account id is exactly 12 digits/],
      [{ accountId, out: 'runbook.pdf' }, 'INVALID_PAYLOAD', /must be an absolute path/],
      [{ accountId, out: '../runbook.pdf' }, 'INVALID_PAYLOAD', /must be an absolute path/],
      [{ accountId, out: join(out, 'runbook.txt') }, 'INVALID_PAYLOAD', /must be a file name ending in \.pdf/],
      [{ accountId, out: `${out}/\0.pdf` }, 'INVALID_PAYLOAD', /NUL/],
      [{ accountId, out: join(out, 'a.pdf'), extra: 1 }, 'INVALID_PAYLOAD', /extra/],
      [{ accountId: '999999999999', out: join(out, 'b.pdf') }, 'NOT_FOUND', 'There is no account 999999999999 in this vault.'],
      [
        { accountId, out: join(out, 'missing', 'c.pdf') },
        'NOT_FOUND',
        `The folder ${join(out, 'missing')} does not exist: choose a folder that does for the runbook.`,
      ],
    ];
    for (const [payload, code, message] of cases) {
      const result = await call('break-glass:runbook', payload);
      expect(result, JSON.stringify(payload)).toMatchObject({ ok: false, error: { code } });
      if (!result.ok) expect(result.error.message, JSON.stringify(payload)).toMatch(message);
    }
    // A path that is a folder: refused after the sheet was made, and its `.part` removed.
    mkdirSync(join(out, 'folder.pdf'));
    expect(await call('break-glass:runbook', { accountId, out: join(out, 'folder.pdf') })).toMatchObject({
      ok: false,
      error: { code: 'CONFLICT', message: `${join(out, 'folder.pdf')} is a folder: give a file name ending in .pdf.` },
    });
    expect(written(out)).toEqual([...before, 'folder.pdf'].sort());
    expect(existsSync(join(out, 'folder.pdf.part'))).toBe(false);
  });
});

describe('halfkey break-glass runbook', () => {
  // One writer per vault: the app's services let it go before the commands run.
  beforeAll(async () => {
    await services?.close();
    services = undefined;
  });

  it('writes the runbook to a path relative to where it runs, with no passphrase; bad arguments exit 2 naming the option', async () => {
    const ok = await halfkey(['break-glass', 'runbook', '--vault', f.dir, '--account', accountId, '--out', 'printed/cli.pdf']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`wrote ${join(out, 'cli.pdf')}: the break-glass runbook of account ${accountId}`);
    expect(ok.stdout).toMatch(/password half: .+ \(Customer\); MFA half: .+ \(Provider\)/);
    expect(flat((await pdfLines(readFileSync(join(out, 'cli.pdf')))).lines)).toContain(`--account ${accountId}`);

    const bad: [string[], RegExp][] = [
      [['--account', '12345', '--out', 'x.pdf'], /--account: an AWS account id is exactly 12 digits/],
      [['--account', accountId, '--out', 'x.txt'], /--out: must be a file name ending in \.pdf/],
      [['--account', accountId], /--out is required/],
      [['--out', 'x.pdf'], /--account is required/],
    ];
    for (const [args, message] of bad) {
      const run = await halfkey(['break-glass', 'runbook', '--vault', f.dir, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
    }
    const unknown = await halfkey(['break-glass', 'runbook', '--vault', f.dir, '--account', '999999999999', '--out', 'y.pdf']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('There is no account 999999999999 in this vault.');
    expect(readdirSync(f.dir).filter((name) => /^[xy]\.(pdf|txt)/.test(name))).toEqual([]);
  });
});

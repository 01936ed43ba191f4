import { describe, expect, it } from 'vitest';
import { APP_ORIGIN, CONTENT_SECURITY_POLICY, ExternalLinkRefused, isAppUrl, openExternalSafely } from '../../electron/main/security';

/** Records what would have been handed to the system browser. */
function recordingShell(): { opened: string[]; shell: { openExternal: (url: string) => Promise<void> } } {
  const opened: string[] = [];
  return { opened, shell: { openExternal: async (url) => void opened.push(url) } };
}

describe('electron/security', () => {
  it('carries the CSP of the window checklist, directive for directive', () => {
    expect(CONTENT_SECURITY_POLICY.split('; ')).toEqual([
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ]);
    expect(APP_ORIGIN).toBe('app://halfkey');
  });

  it('isAppUrl accepts only the app origin, comparing parsed URLs', () => {
    for (const url of ['app://halfkey/', 'app://halfkey/index.html?x#y', 'app://HALFKEY/a']) expect(isAppUrl(url), url).toBe(true);
    for (const url of [
      'app://halfkey.evil/',
      'app://evil/halfkey',
      'https://halfkey/',
      'app://halfkey@evil/',
      'app://x:y@halfkey/',
      'app://halfkey:8/',
      'app:halfkey',
      'app:///halfkey',
      '',
      'halfkey',
    ]) {
      expect(isAppUrl(url), url).toBe(false);
    }
  });

  it('openExternalSafely opens an allowlisted https link, as the parsed URL', async () => {
    const { opened, shell } = recordingShell();
    await openExternalSafely(shell, 'https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html');
    await openExternalSafely(shell, 'HTTPS://Console.AWS.amazon.com/');
    expect(opened).toEqual(['https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html', 'https://console.aws.amazon.com/']);
  });

  const refusals: [string, string, RegExp][] = [
    ['plain http', 'http://docs.aws.amazon.com/', /Only https links .* http:/],
    ['file://', 'file:///etc/passwd', /Only https links .* file:/],
    ['javascript:', 'javascript:alert(1)', /Only https links/],
    ['a host off the allowlist', 'https://evil.example/', /does not open links to evil\.example/],
    ['a look-alike host', 'https://docs.aws.amazon.com.evil.example/', /not on the allowlist/],
    ['credentials in the URL', 'https://user:pw@docs.aws.amazon.com/', /user name or password/],
    ['no URL at all', 'docs.aws.amazon.com', /not a valid URL/],
  ];
  it.each(refusals)('openExternalSafely refuses %s and opens nothing', async (_name, url, message) => {
    const { opened, shell } = recordingShell();
    const attempt = openExternalSafely(shell, url);
    await expect(attempt).rejects.toBeInstanceOf(ExternalLinkRefused);
    await expect(attempt).rejects.toThrow(message);
    expect(opened).toEqual([]);
  });
});

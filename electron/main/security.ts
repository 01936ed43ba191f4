/**
 * The shell's security constants and the one safe way to open an external link.
 *
 * The CSP lives beside the renderer files (electron/app/renderer-files.ts), which both the app://
 * protocol and the preview adapter serve.
 */
import type { Shell } from 'electron';

export { CONTENT_SECURITY_POLICY } from '../app/renderer-files';

/** The custom scheme the renderer is served from (never file://). */
export const APP_SCHEME = 'app';

/** The renderer's host under the app scheme. */
export const APP_HOST = 'halfkey';

/** The one origin the page, its navigations and its IPC senders may have. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** The page the window loads first. */
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * True when `url` is on the app origin. Compares the parsed scheme and host, never a string
 * prefix: `app://halfkey.evil/`, `app://halfkey@evil/` and `app://evil/halfkey` are all refused.
 */
export function isAppUrl(url: string): boolean {
  const parsed = parse(url);
  return (
    parsed !== null &&
    parsed.protocol === `${APP_SCHEME}:` &&
    // Chromium lower-cases a standard scheme's host; Node's parser does not for unknown schemes.
    parsed.hostname.toLowerCase() === APP_HOST &&
    parsed.port === '' &&
    parsed.username === '' &&
    parsed.password === ''
  );
}

/** Hosts the app may send the user to in their browser (documentation and the AWS console). */
export const EXTERNAL_HOST_ALLOWLIST: readonly string[] = Object.freeze([
  'console.aws.amazon.com',
  'signin.aws.amazon.com',
  'docs.aws.amazon.com',
]);

/** Why openExternalSafely refused a link; the caller shows it to the user. */
export class ExternalLinkRefused extends Error {
  override readonly name = 'ExternalLinkRefused';
}

/**
 * The only way the app opens a link outside itself (STYLE rule 6): https only, to an allowlisted
 * host, no credentials in the URL. Anything else is refused with a reason and never opened.
 */
export async function openExternalSafely(
  shell: Pick<Shell, 'openExternal'>,
  url: string,
  allowlist: readonly string[] = EXTERNAL_HOST_ALLOWLIST,
): Promise<void> {
  const parsed = parse(url);
  if (parsed === null) throw new ExternalLinkRefused('The link is not a valid URL, so it was not opened.');
  if (parsed.protocol !== 'https:') {
    throw new ExternalLinkRefused(`Only https links are opened outside Halfkey; this one uses ${parsed.protocol}`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ExternalLinkRefused('The link carries a user name or password, so it was not opened.');
  }
  if (!allowlist.includes(parsed.hostname)) {
    throw new ExternalLinkRefused(`Halfkey does not open links to ${parsed.hostname}; it is not on the allowlist.`);
  }
  // Pass the re-serialised URL, not the caller's string, so what was checked is what is opened.
  await shell.openExternal(parsed.href);
}

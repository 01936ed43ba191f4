import { describe, expect, it } from 'vitest';
import { injectBridge } from '../../electron/preview/static-files';

const TAG = '<script src="/preview-bridge.js"></script>';

describe('injecting the preview bridge into index.html', () => {
  it('puts the bridge before the first script, so window.halfkey exists when the app starts', () => {
    const html = '<html><head><link rel="stylesheet" href="a.css"><script type="module" src="./assets/app.js"></script></head></html>';
    const out = injectBridge(html);
    expect(out).toBe(html.replace('<script type="module"', `${TAG}<script type="module"`));
  });

  it('matches the script tag whatever its case', () => {
    expect(injectBridge('<head><SCRIPT src="x.js"></SCRIPT></head>')).toBe(`<head>${TAG}<SCRIPT src="x.js"></SCRIPT></head>`);
  });

  it('falls back to the end of <head> when the page has no script', () => {
    expect(injectBridge('<html><head><title>t</title></head><body></body></html>')).toBe(
      `<html><head><title>t</title>${TAG}</head><body></body></html>`,
    );
  });

  it('refuses a page with neither a script nor a head, naming the problem', () => {
    expect(() => injectBridge('<p>not a page</p>')).toThrow(/neither a <script> nor a <\/head>/);
  });
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Lives in build/ (it runs in Node at build time); renderer/ holds only code that runs in the page.
const root = fileURLToPath(new URL('../renderer', import.meta.url));

/**
 * The renderer build. Relative base so the same files load from the Electron `app://` protocol
 * and from the preview server. JSX is compiled by esbuild; no React plugin is needed.
 */
export default defineConfig({
  root,
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    // No inlined assets: the CSP allows images from 'self' and data:, but keeping files separate keeps it simple.
    assetsInlineLimit: 0,
    // The CSP forbids inline scripts; Vite's module-preload polyfill would otherwise be injected.
    modulePreload: { polyfill: false },
  },
});

// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'process',
  'readline',
  'stream',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

/** STYLE.md rule 1: a file's folder says where it runs. Each layer's forbidden imports. */
const layer = (files, patterns, message) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { paths: [...nodeBuiltins, 'electron'].map((name) => ({ name, message })), patterns: [{ group: patterns, message }] },
    ],
  },
});

/** The CLI's layer (see its use below): static imports and dynamic import() alike. */
function cliLayer() {
  const message =
    'electron/cli/ is a Node-only adapter over the router: it may import ../app/*, shared/, server/cli and node built-ins; never electron, a feature folder (vault, custody, journal, sync, keychain, base, review, reconcile) or better-sqlite3/keytar/pg.';
  const files = ['electron/cli/**/*.ts'];
  // A feature folder reached from electron/cli/ (`../vault/vault`, `../../electron/sync/client`), except the three file verifiers.
  const feature = String.raw`^(?:\.\./)+(?:electron/)?(?!(?:journal/bundle-file|journal/parallel-verify|sync/server-export-file)(?:\.ts)?$)(?:vault|custody|journal|sync|keychain|base|review|reconcile|break-glass)(?:/|$)`;
  // Anything of server/ but its CLI.
  const server = String.raw`^(?:\.\./)+server/(?!cli(?:\.ts)?$)`;
  const drivers = String.raw`^(?:better-sqlite3|keytar|pg|electron)(?:/|$)`;
  const adapters = String.raw`^(?:\.\./)+(?:electron/)?(?:main|preload|preview|renderer)(?:/|$)|^(?:\.\./)+renderer/`;
  const forbidden = [feature, server, drivers, adapters];
  return [
    {
      files,
      rules: {
        'no-restricted-imports': [
          'error',
          {
            paths: [...nodeBuiltins, 'electron', 'better-sqlite3', 'keytar', 'pg'].map((name) => ({ name, message })),
            patterns: forbidden.map((regex) => ({ regex, message })),
          },
        ],
        'no-restricted-syntax': [
          'error',
          ...forbidden.map((regex) => ({ selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\/')}/]`, message })),
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test-results/**', 'playwright-report/**', 'test/fixtures/lint/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/ban-ts-comment': [
        'error',
        { 'ts-ignore': true, 'ts-nocheck': true, 'ts-expect-error': 'allow-with-description' },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain Node scripts (bootstrap, bundling, the CLI entry): Node's globals, no TypeScript.
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'Buffer',
          'URL',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          '__dirname',
          'require',
          'module',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  layer(
    ['shared/**/*.{ts,tsx}'],
    [
      'node:*',
      'electron',
      'electron/*',
      '**/electron/**',
      '**/renderer/**',
      '**/server/**',
      'react',
      'react-dom',
      'react-dom/*',
      'better-sqlite3',
      'keytar',
      'pg',
      'fastify',
    ],
    'shared/ is pure: no electron, no node built-ins, no DOM, no other layer.',
  ),
  {
    files: ['shared/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-globals': [
        'error',
        'window',
        'document',
        'localStorage',
        'sessionStorage',
        'navigator',
        'process',
        'Buffer',
        'require',
      ],
    },
  },
  layer(
    ['renderer/**/*.{ts,tsx}'],
    ['node:*', 'electron', 'electron/*', '**/electron/**', '**/server/**', 'better-sqlite3', 'keytar', 'pg', 'fastify'],
    'renderer/ talks only to window.halfkey: no electron/, no node, no server/.',
  ),
  layer(
    ['server/**/*.ts'],
    ['electron', 'electron/*', '**/electron/**', '**/renderer/**', 'keytar', 'react', 'react-dom'],
    'server/ runs without Electron: it may use shared/ and its own code only.',
  ),
  // electron/: the folder names where a file runs (docs/architecture.md). Node-only code never imports
  // `electron` (Electron's pieces reach it injected by electron/main/), nor an adapter.
  layer(
    ['electron/{app,base,break-glass,custody,journal,keychain,reconcile,review,sync,vault}/**/*.ts', 'electron/preview/*.ts'],
    ['electron', 'electron/*', '**/main/**', '**/preload/**', '**/renderer/**', '!**/node_modules/**'],
    'Node-only code (electron/app, base, custody, journal, keychain, reconcile, review, sync, vault, preview): no electron import, no electron/main or preload; Electron pieces are injected by electron/main/.',
  ),
  // electron/cli/ is the third adapter over the router (electron/cli/api.ts): it reaches a vault only
  // through ../app/ (services, handler table, router), and may import shared/, server/cli (`halfkey
  // server`), node built-ins and npm packages besides; never a feature folder, nor a database or
  // keychain driver. The one exception: `journal verify` reads a FILE with the pure file verifiers
  // (electron/cli/journal.ts says why). Dynamic import() is checked as well as import declarations.
  ...cliLayer(),
  {
    // The features never reach for an adapter: only electron/app composes them, only adapters call the router.
    files: ['electron/{base,break-glass,custody,journal,keychain,reconcile,review,sync,vault}/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['electron'].map((name) => ({
            name,
            message: 'A feature folder is Node-only: no electron import; electron/main/ injects what it needs.',
          })),
          // A feature's handlers are typed by the router's Handler (electron/app/router.ts), its one import from app/.
          patterns: [
            {
              group: ['**/main/**', '**/preload/**', '**/preview/**', '**/cli/**', '**/app/**', '!**/app/router', '**/renderer/**'],
              message: 'A feature folder is Node-only and knows no adapter: no electron/main, preload, preview, cli or app import.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['electron/main/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/preview/**', '**/cli/**', '**/renderer/**'],
              message: 'electron/main/ is what ships: never the preview adapter (not packaged), the CLI or the renderer.',
            },
          ],
        },
      ],
    },
  },
  layer(
    ['electron/preview/page/**/*.ts'],
    [
      'node:*',
      'electron',
      'electron/*',
      '**/app/**',
      '**/base/**',
      '**/custody/**',
      '**/journal/**',
      '**/keychain/**',
      '**/review/**',
      '**/sync/**',
      '**/vault/**',
      '**/main/**',
      '**/server/**',
      'better-sqlite3',
      'keytar',
    ],
    'electron/preview/page/ runs in the page: shared/api types and the preview wire format only.',
  ),
  {
    files: ['electron/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                '**/app/**',
                '**/base/**',
                '**/custody/**',
                '**/journal/**',
                '**/keychain/**',
                '**/review/**',
                '**/sync/**',
                '**/vault/**',
                'better-sqlite3',
                'keytar',
              ],
              message: 'The preload exposes window.halfkey only: electron and shared/api, nothing else.',
            },
          ],
        },
      ],
    },
  },
);

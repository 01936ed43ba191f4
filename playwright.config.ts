import { defineConfig } from '@playwright/test';

/** The flags Debian's Chromium needs here: no sandbox (container), no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export default defineConfig({
  outputDir: 'test-results/playwright',
  // The renderer and the preview bridge are built once for the whole run.
  globalSetup: './test/e2e/global-setup.ts',
  // Two shared cores: one worker keeps Chromium from starving the other engineers' tests.
  workers: 1,
  forbidOnly: true,
  reporter: [['list']],
  timeout: 30_000,
  projects: [
    {
      name: 'preview',
      testDir: 'test/e2e',
      use: {
        browserName: 'chromium',
        headless: true,
        launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
      },
    },
    {
      // Playwright's _electron specs; owned by the Electron adapter. They need the Electron binary.
      name: 'electron',
      testDir: 'test/electron',
    },
  ],
});

#!/usr/bin/env bash
# The checks `npm test` runs (inside build/with-keyring.sh, with HALFKEY_TEST_PG set).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-results
status=0
step() { echo; echo "== $1"; shift; "$@" || { echo "!! failed: $*"; status=1; }; }

step "format (prettier --check; npx prettier --write . fixes it)" npx prettier --check --log-level warn "**/*.{ts,tsx,mjs,js,cjs,css}"
step "lint (includes the layering rules)" npx eslint .
step "type-check" npx tsc -p tsconfig.json --noEmit
step "build (renderer, preview bridge, electron bundles)" node build/bundle.mjs
step "unit, integration and reliability tests (vitest)" npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json
step "end-to-end in Chromium, Electron specs where the binary exists (playwright)" env PLAYWRIGHT_JSON_OUTPUT_NAME=test-results/playwright.json npx playwright test --reporter=list,json
node build/test-summary.mjs test-results/vitest.json test-results/playwright.json || status=1
exit "$status"

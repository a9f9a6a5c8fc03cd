#!/usr/bin/env bash
# Rebuild the confirmation card (lox24_mcp/mcp/ui/confirm_cancel.html) from ui/ with the pinned npm
# toolchain: npm ci installs exactly package-lock.json, esbuild bundles the official ext-apps App
# client and the card into one self-contained HTML file. Commit the result; the test suite fails
# when it is stale (tests/mcp/test_card_build.py).
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
node build.mjs

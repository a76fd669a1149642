#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node's test runner.
// Node 20 has no glob support in `node --test`, hence this list.
// Usage: node scripts/run-tests.js [--quick] [--exclude=part] [filter...]
//   --quick leaves out the long soak and torture runs (files named *.long.test.js).
//   --exclude=part leaves out the files whose path contains `part` (repeatable).
'use strict';
const { readdirSync, statSync } = require('node:fs');
const { join, relative } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..', 'dist', 'test');
const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.HARVESTER_QUICK_TESTS === '1';
const filters = args.filter((a) => !a.startsWith('--'));
const excludes = args.filter((a) => a.startsWith('--exclude=')).map((a) => a.slice('--exclude='.length));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'fixtures' ? [] : walk(p);
    return p.endsWith('.test.js') ? [p] : [];
  });
}

let files = walk(root).sort();
if (quick) files = files.filter((f) => !f.endsWith('.long.test.js'));
if (filters.length) files = files.filter((f) => filters.some((x) => relative(root, f).includes(x)));
if (excludes.length) {
  files = files.filter((f) => !excludes.some((x) => relative(root, f).includes(x)));
  console.log(`left out: files matching ${excludes.join(', ')}`);
}
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(process.execPath, [
  '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files,
], { stdio: 'inherit' });
process.exit(result.status ?? 1);

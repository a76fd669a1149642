// The long chaos soak, opt-in: HARVESTER_CHAOS_MINUTES=<n> node scripts/run-tests.js soak.long
// (or npm run chaos -- --minutes <n>). Skipped otherwise, also in a full `npm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, runSoak } from './soak';

const minutes = Number(process.env.HARVESTER_CHAOS_MINUTES ?? 0);

test(`chaos soak, long: ${minutes || 'N'} minute(s)`, {
  skip: minutes > 0 ? false : 'opt-in: set HARVESTER_CHAOS_MINUTES=<minutes>',
  timeout: (minutes * 60 + 120) * 1000,
}, async (t) => {
  const seed = process.env.HARVESTER_CHAOS_SEED ? Number(process.env.HARVESTER_CHAOS_SEED) : undefined;
  const summary = await runSoak({ seconds: minutes * 60, seed, progress: (l) => t.diagnostic(l) });
  const report = formatSummary(summary);
  for (const line of report.split('\n')) t.diagnostic(line);
  if (summary.violations.length > 0) assert.fail(`chaos soak broke ${summary.violations.length} invariant(s):\n${report}`);
});

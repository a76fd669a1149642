// The chaos soak of the supervisor (test/chaos/soak.ts), 60 s of random faults
// in the real CLI, as part of `npm test`. A failure names each broken invariant
// and the seed to replay it with: npm run chaos -- --seconds 60 --seed <seed>.
// HARVESTER_CHAOS_SEED=<n> fixes the seed; longer runs: supervisor-soak.long.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, runSoak } from './soak';

const SECONDS = 60;

test(`chaos soak: ${SECONDS} s of random faults in six loops, then a signal; the supervisor holds every invariant`, async (t) => {
  const seed = process.env.HARVESTER_CHAOS_SEED ? Number(process.env.HARVESTER_CHAOS_SEED) : undefined;
  const summary = await runSoak({ seconds: SECONDS, seed, progress: (l) => t.diagnostic(l) });
  const report = formatSummary(summary);
  for (const line of report.split('\n')) t.diagnostic(line);
  if (summary.violations.length > 0) assert.fail(`chaos soak broke ${summary.violations.length} invariant(s):\n${report}`);
  // The soak itself did its job: enough faults, of every kind.
  assert.ok(summary.faults.injected >= 30, `only ${summary.faults.injected} faults injected in ${SECONDS} s:\n${report}`);
  const kinds = new Set(Object.keys(summary.faults.byKind).map((k) => k.replace(/@setup$/, '')));
  for (const kind of ['throw', 'reject', 'throw-non-error', 'timer-reject', 'exit', 'spin', 'oom', 'stall', 'teardown-hang', 'slow-setup']) {
    assert.ok(kinds.has(kind), `no ${kind} fault injected:\n${report}`);
  }
});

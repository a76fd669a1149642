// Alerts reach people once per incident, with a recovery when it clears: a
// seedbox that refuses our credentials for a while, then accepts them again;
// a loop that keeps crashing until the supervisor gives up on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../../src/transfers/store/driver';
import { ev, removeDir, runCli, tempDir, waitUntil, waitUntilAsync, type CliRun } from '../helpers';
import { queryDb } from '../helpers/db';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { startFakePutio } from '../fakes/putio-server';
import { startFakeWebhook } from '../fakes/webhook-server';

test('put.io refusing the token sends one alert.auth-failed, and one recovery once it accepts it again', async () => {
  const dir = tempDir();
  const putio = await startFakePutio({ label: 'harvester' });
  const hooks = await startFakeWebhook();
  // Several polls in a row are refused (each poll retries nothing on a 401).
  putio.failNext(6, 401, 'GET /v2/transfers/list');
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: putio.token, PUTIO_API_URL: putio.url, TARGET_LABEL: 'harvester',
      DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'h.db'), POLLING_INTERVAL: '200ms', WEBHOOK_URL: hooks.url,
    },
  });
  try {
    await run.waitForLine(ev('alert.auth-recovered'), 30_000);
    await waitUntil(() => hooks.received.length >= 2, 15_000, 'alert and recovery delivered');
    const alerts = hooks.received.map((r) => r.json as { event: string; state: string; name: string });
    assert.deepEqual(alerts.map((a) => [a.event, a.state]), [['alert.auth-failed', 'firing'], ['alert.auth-failed', 'resolved']]);
    assert.ok(run.lines.filter(ev('seedbox.list-failed')).length >= 2, 'several refused polls');
    assert.equal(run.lines.filter(ev('alert.auth-failed')).length, 1, 'one alert line for the whole incident');
    assert.ok(!run.stdout().includes(putio.token));
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await putio.close();
    await hooks.close();
    removeDir(dir);
  }
});

/** The loops as the ops API shows them, by name. */
async function loopsByName(port: number): Promise<Map<string, { state: string; restarts: number; tickCount: number }>> {
  const body = (await (await fetch(`http://127.0.0.1:${port}/api/loops`)).json()) as { loops: Array<{ name: string; state: string; restarts: number; tickCount: number }> };
  return new Map(body.loops.map((l) => [l.name, l]));
}


const outboxRows = (dbPath: string, event: string): Array<{ id: string; sent_at: number | null }> =>
  queryDb(dbPath, (db) => db.prepare('SELECT id, sent_at FROM outbox WHERE event = ? ORDER BY created_at').all(event) as Array<{ id: string; sent_at: number | null }>) ?? [];

test('a loop that gives up sends one alert.loop-gave-up, not one per restart of the daemon, and the fixed daemon runs on', async () => {
  const dir = tempDir();
  const hooks = await startFakeWebhook();
  const dbPath = join(dir, 'h.db');
  const seedbox = join(dir, 'seedbox');
  mkdirSync(seedbox, { recursive: true });
  const env = {
    LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: dbPath,
    POLLING_INTERVAL: '200ms', WEBHOOK_URL: hooks.url, LOG_LEVEL: 'info',
  };
  // A transfer downloaded earlier: with no *arr configured, watch-imported marks it imported at its first tick...
  const store = new SqliteStore(dbPath);
  await store.upsertRemote('local', { remoteId: 'Stuck.mkv', name: 'Stuck.mkv', remoteStatus: 'finished', progress: 100, finished: true, totalBytes: 10 });
  await store.close();
  const db = new Database(dbPath);
  db.prepare("UPDATE transfers SET state = 'downloaded', local_name = 'Stuck.mkv', done_bytes = 10, downloaded_at = ? WHERE id = 'local:Stuck.mkv'").run(Date.now());
  // ...but the database refuses that write (no hook in harvester: a trigger of the test's own). A store
  // error crashes the loop, its restarts crash the same way, and the default policy (5 restarts in 60 s) gives up.
  db.exec(`CREATE TRIGGER refuse_imported BEFORE UPDATE OF state ON transfers WHEN NEW.state = 'imported'
    BEGIN SELECT RAISE(ABORT, 'the store refuses this write'); END`);
  db.close();
  const runs: CliRun[] = [];
  try {
    // 1. The loop gives up; the others run on meanwhile, then the process ends (pm2/systemd start it again).
    const first = runCli(['run'], { cwd: dir, env });
    runs.push(first);
    const port = Number((await first.waitForLine(ev('http.listening'), 30_000)).port);
    const crashing = (min: number) => async () => {
      const loops = await loopsByName(port);
      return (loops.get('watch-imported')?.restarts ?? 0) >= min ? loops : undefined;
    };
    const early = await waitUntilAsync(crashing(1), 30_000, 'watch-imported restarted once');
    const later = await waitUntilAsync(crashing(3), 30_000, 'watch-imported restarted three times');
    for (const name of ['produce-transfers', 'download', 'watch-seeding', 'notify', 'cleanup', 'transmission-rpc']) {
      assert.equal(later.get(name)?.state, 'ready', `${name} runs on while watch-imported crashes`);
      assert.equal(later.get(name)?.restarts, 0, `${name} never restarted`);
    }
    for (const name of ['download', 'notify']) {
      assert.ok(later.get(name)!.tickCount > early.get(name)!.tickCount, `${name} kept ticking`);
    }
    const gaveUp = await first.waitForLine(ev('loop.gave-up'), 30_000);
    assert.equal(gaveUp.operation, 'watch-imported');
    assert.equal((await first.exited).code, 1, 'a loop given up ends the process with exit code 1');
    assert.equal(first.lines.find(ev('supervisor.stopping'))?.reason, 'gave-up');
    const crashed = new Set(first.lines.filter(ev('loop.crashed')).map((l) => l.operation));
    assert.deepEqual([...crashed], ['watch-imported'], 'only the faulty loop crashed');
    assert.equal(outboxRows(dbPath, 'alert.loop-gave-up').length, 1, 'the alert is in the outbox');

    // 2. Started again with the fault still there: the alert goes out, the loop gives up again, no second alert.
    const second = runCli(['run'], { cwd: dir, env });
    runs.push(second);
    await second.waitForLine(ev('loop.gave-up', { operation: 'watch-imported' }), 60_000);
    assert.equal((await second.exited).code, 1);
    const rows = outboxRows(dbPath, 'alert.loop-gave-up');
    assert.equal(rows.length, 1, 'the same incident: nothing new queued');
    assert.ok(rows[0]!.sent_at !== null, 'sent by notify while the loop was failing again');

    // 3. Fixed: the loop works again after a restart, the transfer moves on, and the incident is resolved.
    const fix = new Database(dbPath);
    fix.exec('DROP TRIGGER refuse_imported');
    fix.close();
    const third = runCli(['run'], { cwd: dir, env });
    runs.push(third);
    await third.waitForLine(ev('transfer.imported'), 30_000);
    await third.waitForLine(ev('supervisor.ready'), 30_000);
    await third.waitForLine(ev('loop.recovered', { operation: 'watch-imported' }), 30_000);
    await waitUntil(() => queryDb(dbPath, (d) => (d.prepare('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL AND gave_up_at IS NULL').get() as { n: number }).n === 0),
      15_000, 'the outbox drained');
    third.child.kill('SIGTERM');
    assert.equal((await third.exited).code, 0);
    assert.ok(third.lines.every((l) => l.event !== 'loop.crashed'), 'no crash once fixed');

    assert.ok(third.lines.every((l) => l.event !== 'loop.recovered' || l.operation === 'watch-imported'), 'only the loop that gave up is resolved');

    const alerts = hooks.received.map((r) => r.json as { id: string; event: string; state: string; name: string; error: string })
      .filter((a) => a.event === 'alert.loop-gave-up');
    assert.deepEqual(alerts.map((a) => [a.name, a.state]), [['watch-imported', 'firing'], ['watch-imported', 'resolved']],
      `one alert for two give-ups, then its recovery: ${JSON.stringify(alerts)}`);
    assert.match(alerts[0]!.error, /gave up after 5 restarts in 60000 ms/);
  } finally {
    for (const run of runs) run.child.kill('SIGKILL');
    await hooks.close();
    removeDir(dir);
  }
});

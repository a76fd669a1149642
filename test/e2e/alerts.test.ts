// Alerts reach people once per incident, with a recovery when it clears: a
// seedbox that refuses our credentials for a while, then accepts them again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
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

// Secrets never reach a log line or a command's output: a full run with a
// put.io token, Sonarr/Radarr API keys, webhook URLs and passwords set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { transferState } from '../helpers/db';
import { startFakePutio } from '../fakes/putio-server';
import { startFakeArr } from '../fakes/arr-server';
import { startFakeWebhook } from '../fakes/webhook-server';

test('no token, key, password or webhook URL appears in any log line or in harvester check', async () => {
  const dir = tempDir();
  const putio = await startFakePutio({ label: 'harvester', echoTokenInErrors: true });
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  const radarr = await startFakeArr({ kind: 'radarr', apiKey: 'radarr0secret0key0000000000000000' });
  const hooks = await startFakeWebhook();
  const hash = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
  const t = putio.addTransfer({ name: 'Secret Show', status: 'COMPLETED', hash, files: [{ path: 'Secret.Show.S01E01.mkv', content: randomBytes(100_000) }] });
  sonarr.addRecord({ eventType: 'downloadFolderImported', downloadId: hash.toUpperCase(), sourceTitle: 'Secret Show' });
  const genericHook = `${hooks.url}?token=generic0webhook0secret`;
  const env = {
    DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: putio.token, PUTIO_API_URL: putio.url, PUTIO_UPLOAD_URL: putio.uploadUrl,
    TARGET_LABEL: 'harvester', DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'h.db'), POLLING_INTERVAL: '300ms',
    SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey, RADARR_BASE_URL: radarr.url, RADARR_API_KEY: radarr.apiKey,
    DISCORD_WEBHOOK_URL: hooks.discordUrl, WEBHOOK_URL: genericHook,
    TRANSMISSION_USERNAME: 'admin', TRANSMISSION_PASSWORD: 'tr4nsm1ssion-pa55', HTTP_TOKEN: 'ops0bearer0token0secret',
    WEB_BIND_ADDRESS: '127.0.0.1:0', HTTP_BIND: '127.0.0.1:0', LOG_LEVEL: 'trace', PUTIO_SEED_RATIO: '0',
  };
  const secrets = [putio.token, sonarr.apiKey, radarr.apiKey, hooks.discordToken, 'generic0webhook0secret', 'tr4nsm1ssion-pa55', 'ops0bearer0token0secret'];
  // One wrong call on the way: a put.io error that quotes the token back must still not leak it.
  putio.failNext(4, 500, 'GET /v2/transfers/list');
  const run = runCli(['run'], { cwd: dir, env });
  try {
    await waitUntil(() => transferState(env.DB_PATH, `putio:${t.id}`) === 'cleaned', 60_000, 'the transfer went all the way');
    await hooks.waitForRequests(6); // finished, imported, cleaned: each to Discord and to the webhook
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    const check = runCli(['check'], { cwd: dir, env });
    await check.exited;
    const outputs = { 'daemon stdout': run.stdout(), 'daemon stderr': run.stderr(), 'check output': check.stdout() + check.stderr() };
    // The search is not vacuous: every step and its remote calls were logged.
    for (const e of ['seedbox.list-failed', 'download.finished', 'transfer.imported', 'transfer.cleaned', 'notification.sent']) {
      assert.ok(run.lines.some(ev(e)), `no ${e} line`);
    }
    for (const [where, text] of Object.entries(outputs)) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 4)}…) appears in the ${where}`);
    }
  } finally {
    run.child.kill('SIGKILL');
    await Promise.all([putio.close(), sonarr.close(), radarr.close(), hooks.close()]);
    removeDir(dir);
  }
});

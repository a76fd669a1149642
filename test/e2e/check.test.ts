// `harvester check`: a newcomer's first command. It prints the configuration
// with secrets masked, tests each connection, and fails clearly on bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, runCli, tempDir } from '../helpers';
import { startFakePutio } from '../fakes/putio-server';
import { startFakeArr } from '../fakes/arr-server';

test('check prints every variable with secrets masked and says which connection works', async () => {
  const dir = tempDir();
  const putio = await startFakePutio({ label: 'tv' });
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  const discord = 'https://discord.com/api/webhooks/123456/sEcReTwEbHoOkToKeN';
  try {
    const run = runCli(['check'], {
      cwd: dir,
      env: {
        DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: putio.token, PUTIO_API_URL: putio.url, TARGET_LABEL: 'tv',
        SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey,
        RADARR_BASE_URL: 'http://127.0.0.1:9', RADARR_API_KEY: 'radarr-key-0123456789',
        DISCORD_WEBHOOK_URL: discord, TRANSMISSION_USERNAME: 'u', TRANSMISSION_PASSWORD: 'pa55w0rd-secret',
      },
    });
    const { code } = await run.exited;
    const out = run.stdout() + run.stderr();
    assert.equal(code, 1, 'Radarr is unreachable: check fails');
    assert.match(out, /ok\s+seedbox \(putio\): put\.io account .*label folder "tv"/);
    assert.match(out, /ok\s+sonarr: /);
    assert.match(out, /FAIL\s+radarr: /);
    assert.match(out, /PUTIO_TOKEN\s+\*\*\*/);
    for (const secret of [putio.token, sonarr.apiKey, 'radarr-key-0123456789', 'sEcReTwEbHoOkToKeN', 'pa55w0rd-secret']) {
      assert.ok(!out.includes(secret), `a secret leaked into harvester check's output`);
    }
  } finally {
    await putio.close();
    await sonarr.close();
    removeDir(dir);
  }
});

test('check names the bad variable in one line and exits 1', async () => {
  const dir = tempDir();
  const run = runCli(['check'], { cwd: dir, env: { KEEP_DOWNLOADED_FOR: 'soon' } });
  assert.equal((await run.exited).code, 1);
  assert.equal(run.stderr().trim().split('\n').length, 1);
  assert.match(run.stderr(), /KEEP_DOWNLOADED_FOR: "soon"/);
  removeDir(dir);
});

test('the daemon refuses a bad value at start-up with one line naming the variable', async () => {
  const dir = tempDir();
  const run = runCli(['run'], { cwd: dir, env: { MAX_PARALLEL: 'lots' } });
  assert.equal((await run.exited).code, 1);
  const fatal = run.lines.filter((l) => l.event === 'startup.failed');
  assert.equal(fatal.length, 1);
  assert.match(String(fatal[0]!.msg), /^MAX_PARALLEL: /);
  removeDir(dir);
});

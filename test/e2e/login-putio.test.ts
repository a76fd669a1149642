// `harvester login putio` end to end against the loopback put.io: put.io's device sign-in
// (the code shown, the user links it at put.io/link), the token written to PUTIO_TOKEN_FILE
// with mode 600 and never printed, and the daemon then started from that file. The bad
// cases: nobody links the code in time, put.io refuses, the code expires, Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, runCli, tempDir, waitUntil, type CliRun } from '../helpers';
import { queryDb } from '../helpers/db';
import { startFakePutio, type FakePutio } from '../fakes/putio-server';

const APP_ID = '4242';

function login(fake: FakePutio, tokenFile: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): CliRun {
  return runCli(['login', 'putio', '--interval', '100ms', ...args], {
    env: { PUTIO_API_URL: fake.url, PUTIO_TOKEN_FILE: tokenFile, PUTIO_APP_ID: APP_ID, PUTIO_TOKEN: '', ...env },
  });
}

/** The code as the user reads it on their terminal. */
async function shownCode(run: CliRun): Promise<string> {
  const m = await waitUntil(() => /Open https:\/\/put\.io\/link and enter the code: ([A-Z0-9]+)\n/.exec(run.stdout()) ?? undefined, 15_000,
    () => `the code on stdout; stdout: ${run.stdout()} stderr: ${run.stderr()}`);
  return m[1]!;
}

test('login putio shows the code, writes the linked token to PUTIO_TOKEN_FILE (mode 600, never printed), and the daemon then lists transfers with it', async () => {
  const dir = tempDir();
  const fake = await startFakePutio({ label: 'harvester' });
  // A folder that does not exist yet: login creates it.
  const tokenFile = join(dir, 'config', 'secrets', 'putio.token');
  try {
    const run = login(fake, tokenFile);
    const code = await shownCode(run);
    assert.deepEqual(fake.oobCodes, [code]);
    const asked = fake.requests.find((r) => r.key === 'GET /v2/oauth2/oob/code');
    assert.equal(asked?.query.app_id, APP_ID);
    // It keeps asking while the code is not linked, and writes nothing meanwhile.
    await fake.waitForCalls('GET /v2/oauth2/oob/code/:code', 2);
    assert.ok(!existsSync(tokenFile));
    fake.linkOob(code);
    const exit = await run.exited;
    assert.equal(exit.code, 0, `stderr: ${run.stderr()}`);
    assert.equal(readFileSync(tokenFile, 'utf8'), `${fake.token}\n`);
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'config', 'secrets')).mode & 0o077, 0, 'the folder it created is the user\'s only');
    assert.deepEqual(readdirSync(join(dir, 'config', 'secrets')), ['putio.token'], 'no temporary file left');
    assert.match(run.stdout(), /Signed in: the token is in .*putio\.token \(mode 600\)/);
    assert.ok(!run.stdout().includes(fake.token) && !run.stderr().includes(fake.token), 'the token is never printed');
    assert.ok(fake.requests.filter((r) => r.key.startsWith('GET /v2/oauth2/oob/')).every((r) => !r.authorized));

    // The daemon reads the token from the file and lists the account's transfers with it.
    const t = fake.addTransfer({ name: 'Show S01', status: 'COMPLETED', files: [{ path: 'Show.S01/e01.mkv', content: 'episode one' }] });
    const dbPath = join(dir, 'config', 'harvester.db');
    const daemon = runCli(['run'], {
      env: {
        DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: '', PUTIO_TOKEN_FILE: tokenFile, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
        TARGET_LABEL: 'harvester', DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: dbPath, POLLING_INTERVAL: '300ms',
      },
    });
    try {
      await waitUntil(() => fake.requests.some((r) => r.key === 'GET /v2/transfers/list' && r.authorized), 30_000, 'an authorized transfers/list');
      await waitUntil(() => queryDb(dbPath, (db) => db.prepare('SELECT 1 FROM transfers WHERE remote_id = ?').get(String(t.id))), 30_000,
        () => `the transfer recorded; stdout: ${daemon.stdout().slice(-2000)}`);
      assert.ok(!daemon.stdout().includes(fake.token));
    } finally {
      daemon.child.kill('SIGTERM');
      assert.equal((await daemon.exited).code, 0);
    }
  } finally {
    await fake.close();
    removeDir(dir);
  }
});

test('a code nobody links within --timeout ends with one line and exit 1, and writes nothing', async () => {
  const dir = tempDir();
  const fake = await startFakePutio();
  const tokenFile = join(dir, 'putio.token');
  try {
    const run = login(fake, tokenFile, ['--timeout', '1s']);
    await shownCode(run);
    const exit = await run.exited;
    assert.equal(exit.code, 1);
    assert.equal(run.stderr(), 'harvester login putio: the code was not linked within 1s; no token written (run it again for a new code)\n');
    assert.ok(fake.calls('GET /v2/oauth2/oob/code/:code') >= 2, 'it asked until the deadline');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    await fake.close();
    removeDir(dir);
  }
});

test('put.io refusing the code request, or the code expiring, ends with one line naming the refusal, exit 1, nothing written', async () => {
  const dir = tempDir();
  const fake = await startFakePutio();
  const tokenFile = join(dir, 'putio.token');
  try {
    fake.failNext(1, 403, 'GET /v2/oauth2/oob/code');
    const refused = login(fake, tokenFile);
    assert.equal((await refused.exited).code, 1);
    assert.equal(refused.stderr(), 'harvester login putio: put.io answered HTTP 403 (FAKE_FAULT: injected HTTP 403)\n');
    assert.equal(refused.stdout(), '', 'no code shown');

    const expiring = login(fake, tokenFile);
    const code = await shownCode(expiring);
    fake.expireOob(code);
    assert.equal((await expiring.exited).code, 1);
    assert.equal(expiring.stderr(), `harvester login putio: the code ${code} is unknown to put.io or has expired\n`);

    // A passing 503 while waiting is said once and the wait goes on: the link still arrives.
    const flaky = login(fake, tokenFile);
    const third = await shownCode(flaky);
    fake.failNext(3, 503, 'GET /v2/oauth2/oob/code/:code');
    await waitUntil(() => flaky.stderr().includes('503'), 15_000, 'the outage said');
    fake.linkOob(third);
    assert.equal((await flaky.exited).code, 0, flaky.stderr());
    assert.equal(flaky.stderr().split('\n').filter(Boolean).length, 1, `said once: ${flaky.stderr()}`);
    assert.equal(readFileSync(tokenFile, 'utf8'), `${fake.token}\n`);
  } finally {
    await fake.close();
    removeDir(dir);
  }
});

test('Ctrl-C while waiting cancels the sign-in (exit 130) and writes nothing; missing settings are one line each', async () => {
  const dir = tempDir();
  const fake = await startFakePutio();
  const tokenFile = join(dir, 'putio.token');
  try {
    const run = login(fake, tokenFile);
    await shownCode(run);
    run.child.kill('SIGINT');
    const exit = await run.exited;
    assert.equal(exit.code, 130);
    assert.equal(run.stderr(), 'harvester login putio: cancelled; no token written\n');
    assert.deepEqual(readdirSync(dir), []);

    const noFile = login(fake, '', [], { PUTIO_TOKEN_FILE: '' });
    assert.equal((await noFile.exited).code, 1);
    assert.match(noFile.stderr(), /^harvester login putio: set PUTIO_TOKEN_FILE \(or --file\) to the file the daemon reads the token from, e\.g\. \/config\/putio\.token\n$/);
    const noApp = login(fake, tokenFile, [], { PUTIO_APP_ID: '' });
    assert.equal((await noApp.exited).code, 1);
    assert.match(noApp.stderr(), /^harvester login putio: set PUTIO_APP_ID \(or --app-id\)/);
    assert.equal(fake.calls('GET /v2/oauth2/oob/code'), 1, 'bad settings ask put.io nothing');
  } finally {
    await fake.close();
    removeDir(dir);
  }
});

test('the daemon refuses PUTIO_TOKEN_FILE pointing at a missing file, and PUTIO_TOKEN beside it, in one line each', async () => {
  const dir = tempDir();
  try {
    const base = { DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: '', DB_PATH: join(dir, 'h.db'), DOWNLOAD_DIR: join(dir, 'd'), HARVESTER_LOG_FORMAT: 'json' };
    const missing = runCli(['run'], { env: { ...base, PUTIO_TOKEN_FILE: join(dir, 'nope.token') } });
    assert.equal((await missing.exited).code, 1);
    const line = missing.lines.find((l) => l.event === 'startup.failed');
    assert.equal(line?.msg, `PUTIO_TOKEN_FILE: cannot read ${JSON.stringify(join(dir, 'nope.token'))} (no such file)`);
    const both = runCli(['run'], { env: { ...base, PUTIO_TOKEN: 'env-token-s3cr3t', PUTIO_TOKEN_FILE: join(dir, 'nope.token') } });
    assert.equal((await both.exited).code, 1);
    assert.equal(both.lines.find((l) => l.event === 'startup.failed')?.msg, 'PUTIO_TOKEN_FILE: cannot be set together with PUTIO_TOKEN: keep one');
    assert.ok(!both.stdout().includes('s3cr3t') && !both.stderr().includes('s3cr3t'));
  } finally {
    removeDir(dir);
  }
});

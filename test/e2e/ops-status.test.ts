// `harvester status` and the ops server against the real daemon, as a person
// at a terminal uses them while a long download runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, freePort, fixture, removeDir, runCli, tempDir, waitUntilAsync, type CliRun } from '../helpers';
import { writeRandomFile } from '../helpers/files';

const MiB = 1024 * 1024;
const TOKEN = 'status-token-8d1e44c2a9f04b7e';

/** Runs `harvester status` with the given environment; resolves with its exit code and output. */
async function status(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runCli(['status', ...args], { env: { HTTP_BIND: '', HTTP_TOKEN: '', ...env } });
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}


function daemonEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const seedbox = join(dir, 'seedbox');
  mkdirSync(seedbox, { recursive: true });
  return {
    LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: join(dir, 'state', 'harvester.db'),
    POLLING_INTERVAL: '300ms', LOG_LEVEL: 'info', HTTP_BIND: '127.0.0.1:0', WEB_BIND_ADDRESS: '127.0.0.1:0', ...extra,
  };
}

async function opsPort(run: CliRun): Promise<number> {
  const line = await run.waitForLine(ev('http.listening'), 30_000);
  return Number(line.port);
}

test('harvester status shows a long download live (percent, rate, time left) and the log reports its progress at info, not per chunk', async () => {
  const dir = tempDir();
  const env = daemonEnv(dir, { MAX_DOWNLOAD_RATE: '2M', HTTP_TOKEN: TOKEN });
  const name = 'Long.Download.2024.mkv';
  const size = 20 * MiB;
  writeRandomFile(join(env.LOCAL_SEEDBOX_DIR!, name), size);
  const run = runCli(['run'], { cwd: dir, env });
  try {
    const port = await opsPort(run);
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    const client = { HTTP_BIND: `127.0.0.1:${port}`, HTTP_TOKEN: TOKEN };
    // Two looks at the same download, the second further along: the table is live.
    const seen: number[] = [];
    let table = '';
    const tables: string[] = [];
    await waitUntilAsync(async () => {
      const s = await status(client);
      assert.equal(s.code, 0, s.stderr);
      const row = s.stdout.split('\n').find((l) => l.includes(name));
      const m = row && /(\d+\.\d)%.*?(\d+(?:\.\d+)? (?:KiB|MiB)\/s)\s*│\s*(\d+s|\d+m \d+s)/.exec(row);
      if (m) {
        const pct = Number(m[1]);
        if (pct > 0 && pct < 100 && (seen.length === 0 || pct > seen[seen.length - 1]!)) seen.push(pct);
        table = s.stdout;
        tables.push(s.stdout);
      }
      return seen.length >= 2;
    }, 60_000, 'two growing percentages of the download in harvester status');
    assert.match(table, /│ produce-transfers │ ready │ \d+ +│ 0 +│/, 'loops as a table: name, state, thread, restarts');
    // The store's counts and the loop's live progress are read a moment apart: the last look may
    // already count the transfer as downloaded, so any look during the download will do.
    assert.ok(tables.some((t) => /transfers: 1 \(downloading 1\)/.test(t)), 'transfers by state, with the one downloading');
    assert.ok(!table.includes(TOKEN));

    const finished = await run.waitForLine(ev('download.finished'), 60_000);
    const progress = run.lines.filter((l) => l.event === 'download.progress');
    assert.ok(progress.length >= 1, 'a download of several seconds logs its progress at info');
    assert.ok(progress.every((l) => l.level === 30), 'at info level (LOG_LEVEL=info hides the debug lines)');
    const seconds = Number(finished.ms) / 1000;
    assert.ok(progress.length <= Math.ceil(seconds / 5) + 1, `${progress.length} progress lines in ${seconds} s: not per chunk`);
    assert.ok(progress.every((l) => typeof l.percent === 'number' && typeof l.rate === 'number'));

    // The counter follows the download loop's published progress within a couple of samples.
    const counted = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      return Number(/^harvester_downloaded_bytes_total (\d+)$/m.exec(text)?.[1]);
    };
    await waitUntilAsync(async () => (await counted()) >= size, 10_000, 'harvester_downloaded_bytes_total to reach the size');
    assert.equal(await counted(), size, 'every byte counted once');
    // Downloaded: the loop drops it from its published list at its next status (the verify and the rename come after the last byte).
    const after = await waitUntilAsync(async () => { const s = await status(client); return /nothing downloading/.test(s.stdout) ? s : undefined; }, 10_000, 'harvester status to list nothing downloading');
    assert.equal(after.code, 0);
    assert.equal((await status({ HTTP_BIND: `127.0.0.1:${port}` })).code, 1, 'without the token: refused');

    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.ok(!run.stdout().includes(TOKEN), 'the token is in no log line');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('harvester status says no daemon is running, and exits non-zero, when nothing listens', async () => {
  const port = await freePort();
  const s = await status({ HTTP_BIND: `127.0.0.1:${port}` });
  assert.equal(s.code, 3, 'LSB: program is not running');
  assert.match(s.stderr, new RegExp(`no harvester is running at http://127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
  assert.equal(s.stdout, '');
  const json = await status({}, ['--url', `http://127.0.0.1:${port}`, '--json']);
  assert.equal(json.code, 3);
});

test('harvester status shows a transfer whose attempt failed: attempt n of MAX_ATTEMPTS, its error and when the next attempt is', async () => {
  const dir = tempDir();
  const env = daemonEnv(dir, { HTTP_TOKEN: TOKEN });
  writeRandomFile(join(env.LOCAL_SEEDBOX_DIR!, 'Trap', 'e1.mkv'), 1000);
  // Its Local Layout is a symlink out of DOWNLOAD_DIR: the attempt is refused (and would be each time).
  mkdirSync(join(dir, 'elsewhere'), { recursive: true });
  mkdirSync(env.DOWNLOAD_DIR!, { recursive: true });
  symlinkSync(join(dir, 'elsewhere'), join(env.DOWNLOAD_DIR!, 'Trap'));
  const run = runCli(['run'], { cwd: dir, env });
  try {
    const port = await opsPort(run);
    const failed = await run.waitForLine(ev('download.failed'), 30_000);
    assert.equal(failed.outcome, 'retry', 'MAX_ATTEMPTS (default 5) not reached: it will be tried again');
    const s = await status({ HTTP_BIND: `127.0.0.1:${port}`, HTTP_TOKEN: TOKEN });
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^transfers: 1 \(queued 1\)$/m);
    assert.match(s.stdout, /^waiting to retry \(1; each is tried again by itself, failed for good after 5 attempts\):$/m);
    const line = s.stdout.split('\n').find((l) => l.startsWith('  local:Trap  Trap: '));
    const m = line && /: attempt 1 of 5 failed, next attempt in (?:(\d+)s|(1)m 00s): .*resolves outside DOWNLOAD_DIR/.exec(line);
    assert.ok(m, `a line for Trap with its attempt, next attempt and error:\n${s.stdout}`);
    // The first backoff step is a minute, counted from the failure a moment ago.
    const seconds = m[2] ? 60 : Number(m[1]);
    assert.ok(seconds > 30 && seconds <= 60, `next attempt in ${seconds} s`);
    assert.doesNotMatch(s.stdout, /^failed \(/m, 'not failed for good');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

test('a daemon whose ops port is taken runs its loops anyway and says why status is unavailable', async () => {
  const dir = tempDir();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const run = runCli(['run'], { cwd: dir, env: daemonEnv(dir, { HTTP_BIND: `127.0.0.1:${port}` }) });
  try {
    const unavailable = await run.waitForLine(ev('http.unavailable'), 30_000);
    assert.match(String(unavailable.msg), /EADDRINUSE/);
    assert.match(String(unavailable.msg), /HTTP_BIND/);
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    blocker.close();
    removeDir(dir);
  }
});

test('harvester run --config serves the ops API for anyone\'s loops when HTTP_BIND is set', async () => {
  const dir = tempDir();
  const config = join(dir, 'loops.config.mjs');
  writeFileSync(config, `export default { loops: [{ name: 'mine', module: ${JSON.stringify(fixture('faulty'))}, intervalMs: 100, options: {} }] };\n`);
  const run = runCli(['run', '--config', config], { cwd: dir, env: { HTTP_BIND: '127.0.0.1:0', HTTP_TOKEN: '' } });
  try {
    const port = await opsPort(run);
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    const s = await status({ HTTP_BIND: `127.0.0.1:${port}` });
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /│ mine +│ ready +│/);
    assert.match(s.stdout, /transfers: 0\nnothing downloading/, 'no store: no transfers');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});


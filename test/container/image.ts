// The image as the *arr world runs it (issue 19), against a real podman: PUID/PGID/UMASK,
// the volumes, the health check, `podman stop`, a restart on the same /config.
// Run by test/container/run.sh (which builds the base and the image), never by `npm test`:
// it needs root and podman. HARVESTER_IMAGE names the image under test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const IMAGE = process.env.HARVESTER_IMAGE ?? '';
const BASE = process.env.HARVESTER_BASE_IMAGE ?? '';
// Not the image's default 1000:1000, so that the test proves PUID/PGID are applied.
const PUID = 1234;
const PGID = 2345;
const UMASK = '027';

interface Run { code: number; stdout: string; stderr: string; ms: number }

function podman(args: string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile('podman', args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      const run = { code, stdout, stderr, ms: Date.now() - started };
      if (code !== 0 && !opts.allowFail) reject(new Error(`podman ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve(run);
    });
  });
}

async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: () => string | Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${await what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function logLines(name: string): Promise<Array<Record<string, unknown>>> {
  const { stdout } = await podman(['logs', name]);
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const dir = mkdtempSync(join(tmpdir(), 'harvester-container-'));
const config = join(dir, 'config');
const downloads = join(dir, 'downloads');
const seedbox = join(dir, 'seedbox');
const tokenFile = join(dir, 'http_token');
const TOKEN = `ops-${randomBytes(12).toString('hex')}`;
const NAME = `harvester-ci-${process.pid}`;
const first = randomBytes(3 * 1024 * 1024 + 7);

before(async () => {
  assert.ok(IMAGE, 'HARVESTER_IMAGE names the image (test/container/run.sh builds it)');
  // /config as a fresh host folder left to root (the entrypoint gives it to PUID:PGID);
  // /downloads already the user's, as Sonarr's media folders are.
  mkdirSync(config);
  mkdirSync(downloads);
  mkdirSync(seedbox);
  chownSync(downloads, PUID, PGID);
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  chownSync(tokenFile, PUID, PGID);
  await podman(['rm', '-f', NAME], { allowFail: true });
  await podman([
    'run', '-d', '--name', NAME,
    // No systemd here to run podman's health timer: the test runs the check itself.
    '--health-interval', 'disable',
    '-e', `PUID=${PUID}`, '-e', `PGID=${PGID}`, '-e', `UMASK=${UMASK}`,
    '-e', 'HTTP_TOKEN_FILE=/run/secrets/http_token', '-e', 'TRANSMISSION_USERNAME=sonarr', '-e', 'TRANSMISSION_PASSWORD=pw',
    '-v', `${config}:/config`, '-v', `${downloads}:/downloads`, '-v', `${seedbox}:/seedbox`, '-v', `${tokenFile}:/run/secrets/http_token:ro`,
    IMAGE,
  ]);
  await waitFor(async () => (await logLines(NAME)).filter((l) => l.event === 'loop.ready').length === 7, 60_000,
    async () => `7 loop.ready lines; logs:\n${(await podman(['logs', NAME], { allowFail: true })).stdout.slice(-3000)}`);
});

after(async () => {
  await podman(['rm', '-f', '-t', '0', NAME], { allowFail: true });
  rmSync(dir, { recursive: true, force: true });
});

test('the image adds under 60 MB to its base', async () => {
  const size = async (image: string) => Number((await podman(['image', 'inspect', '--format', '{{.Size}}', image])).stdout.trim());
  const beyond = (await size(IMAGE)) - (await size(BASE));
  console.log(`# image size beyond its base: ${(beyond / 1e6).toFixed(1)} MB`);
  assert.ok(beyond > 0 && beyond < 60e6, `${beyond} bytes beyond the base`);
  // No compiler came along, and better-sqlite3 12 (built from source on Node 20) is not in it.
  const probe = await podman(['run', '--rm', '--entrypoint', 'sh', IMAGE, '-c',
    'command -v gcc g++ cc make python3 curl; ls /app/node_modules | grep -x better-sqlite3; node -p "require(\'/app/dist/src/transfers/store/driver.js\').DRIVER"'], { allowFail: true });
  assert.equal(probe.stdout.trim(), 'better-sqlite3@13', `only the driver line is printed: ${probe.stdout}`);
});

test('the daemon runs as PUID:PGID, never as root, with the image defaults', async () => {
  const status = (await podman(['exec', NAME, 'cat', '/proc/1/status'])).stdout;
  assert.match(status, new RegExp(`^Uid:\\s+${PUID}\\s+${PUID}\\s+${PUID}\\s+${PUID}$`, 'm'), status);
  assert.match(status, new RegExp(`^Gid:\\s+${PGID}\\s+${PGID}\\s+${PGID}\\s+${PGID}$`, 'm'));
  assert.match(status, new RegExp(`^Groups:\\s+${PGID}\\s*$`, 'm'), 'no supplementary group of root kept');
  assert.match(status, /^CapEff:\s+0+$/m, 'no capability left');
  const env = (await podman(['image', 'inspect', '--format', '{{json .Config.Env}}', IMAGE])).stdout;
  for (const e of ['DOWNLOAD_DIR=/downloads', 'LOCAL_SEEDBOX_DIR=/seedbox', 'DB_PATH=/config/harvester.db', 'WEB_BIND_ADDRESS=0.0.0.0:9091', 'HTTP_BIND=0.0.0.0:9092']) {
    assert.ok(env.includes(e), `${e} in ${env}`);
  }
  assert.doesNotMatch(env, /NODE_EXTRA_CA_CERTS/, 'the build CA is not in the image');
  // The config folder, root's on the host, was given to PUID:PGID, and the store in it is theirs.
  for (const p of [config, join(config, 'harvester.db')]) {
    const st = statSync(p);
    assert.deepEqual([st.uid, st.gid], [PUID, PGID], p);
  }
});

test('both endpoints listen on every interface of the container; the ops token comes from HTTP_TOKEN_FILE', async () => {
  const script = `
    const ip = Object.values(require('os').networkInterfaces()).flat().find((i) => i.family === 'IPv4' && !i.internal).address;
    Promise.all([
      fetch('http://' + ip + ':9091/transmission/rpc', { method: 'POST', body: '{}' }).then((r) => r.status),
      fetch('http://' + ip + ':9092/api/loops').then((r) => r.status),
      fetch('http://' + ip + ':9092/api/loops', { headers: { authorization: 'Bearer ${TOKEN}' } }).then((r) => r.status),
    ]).then((s) => console.log(ip, s.join(' ')));`;
  const out = (await podman(['exec', NAME, 'node', '-e', script])).stdout.trim();
  // 401: Transmission wants credentials first; the ops API wants the token, and takes the file's.
  assert.match(out, /^\d+\.\d+\.\d+\.\d+ 401 401 200$/, out);
  const status = await podman(['exec', NAME, 'harvester', 'status'], { allowFail: true });
  assert.equal(status.code, 0, `harvester status inside the container: ${status.stderr}`);
  assert.match(status.stdout, /7\/7 loops ready/);
});

test('the health check asks /healthz with node, and can fail', async () => {
  const ok = await podman(['healthcheck', 'run', NAME], { allowFail: true });
  assert.equal(ok.code, 0, `podman healthcheck run: ${ok.stdout}${ok.stderr}`);
  const bad = await podman(['exec', '-e', 'HTTP_BIND=127.0.0.1:39999', NAME, 'node', '/app/dist/src/container/healthcheck.js'], { allowFail: true });
  assert.equal(bad.code, 1, 'nothing listening there: unhealthy');
  assert.match(bad.stdout, /127\.0\.0\.1:39999\/healthz: ECONNREFUSED/);
});

test('a folder dropped into the seedbox arrives in /downloads owned by PUID:PGID with the mode of UMASK', async () => {
  mkdirSync(join(seedbox, 'Show S01', 'Subs'), { recursive: true });
  writeFileSync(join(seedbox, 'Show S01', 'e01.mkv'), first);
  writeFileSync(join(seedbox, 'Show S01', 'Subs', 'en.srt'), 'subtitles');
  await waitFor(async () => (await logLines(NAME)).some((l) => l.event === 'download.finished'), 90_000,
    async () => `download.finished; logs:\n${(await podman(['logs', NAME])).stdout.slice(-3000)}`);
  const show = join(downloads, 'Show S01');
  assert.deepEqual(readdirSync(show).sort(), ['Subs', 'e01.mkv']);
  assert.equal(statSync(join(show, 'e01.mkv')).size, first.length);
  for (const [p, mode] of [[show, 0o750], [join(show, 'Subs'), 0o750], [join(show, 'e01.mkv'), 0o640], [join(show, 'Subs', 'en.srt'), 0o640]] as const) {
    const st = statSync(p);
    assert.deepEqual([st.uid, st.gid], [PUID, PGID], `${p} belongs to PUID:PGID`);
    assert.equal(st.mode & 0o777, mode, `${p} has mode ${mode.toString(8)} (UMASK ${UMASK})`);
  }
});

test('podman stop: every loop stops gracefully and the container exits 0 well inside the 10 s', async () => {
  const stop = await podman(['stop', '-t', '10', NAME]);
  console.log(`# podman stop took ${stop.ms} ms`);
  assert.ok(stop.ms < 5_000, `podman stop took ${stop.ms} ms`);
  assert.equal((await podman(['inspect', '--format', '{{.State.ExitCode}}', NAME])).stdout.trim(), '0');
  const lines = await logLines(NAME);
  assert.ok(lines.some((l) => l.event === 'supervisor.stopping' && l.reason === 'SIGTERM'), 'SIGTERM reached the supervisor (PID 1)');
  const exits = lines.filter((l) => l.event === 'loop.exited');
  assert.equal(exits.length, 7);
  assert.ok(exits.every((l) => l.reason === 'stopped'), `every loop stopped, none terminated: ${exits.map((l) => `${String(l.operation)}=${String(l.reason)}`).join(', ')}`);
  assert.ok(lines.some((l) => l.event === 'supervisor.stopped' && l.exitCode === 0));
});

test('a restart with the same /config resumes: nothing is downloaded twice', async () => {
  const before = statSync(join(downloads, 'Show S01', 'e01.mkv'));
  writeFileSync(join(seedbox, 'movie.mkv'), randomBytes(100_000));
  await podman(['start', NAME]);
  // `podman logs` keeps both runs: the second run's lines follow its own supervisor.starting.
  const secondRun = async () => {
    const lines = await logLines(NAME);
    const starts = lines.map((l, i) => (l.event === 'supervisor.starting' ? i : -1)).filter((i) => i >= 0);
    return starts.length >= 2 ? lines.slice(starts[1]) : [];
  };
  await waitFor(async () => (await secondRun()).some((l) => l.event === 'download.finished'), 90_000,
    async () => `the movie downloaded after the restart; logs:\n${(await podman(['logs', NAME])).stdout.slice(-3000)}`);
  const started = (await secondRun()).filter((l) => l.event === 'download.started').map((l) => l.name);
  assert.deepEqual(started, ['movie.mkv'], 'only the new transfer is downloaded');
  assert.ok(existsSync(join(downloads, 'movie.mkv')));
  const after = statSync(join(downloads, 'Show S01', 'e01.mkv'));
  assert.equal(after.ino, before.ino, 'the first copy was not written again');
  assert.equal(after.mtimeMs, before.mtimeMs);
  const all = await logLines(NAME);
  assert.equal(all.filter((l) => l.event === 'download.started').length, 2, 'two transfers, two downloads across both runs');
});

test('with DB_PATH outside /config (a shared /data), only the database files are given to PUID:PGID, never the folder around them', async () => {
  // The user's shared folder, with a database an earlier root run left, and someone else's file.
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chownSync(shared, PUID, PGID);
  writeFileSync(join(shared, 'harvester.db'), '');
  writeFileSync(join(shared, 'movie.mkv'), 'the library of another user');
  chownSync(join(shared, 'movie.mkv'), 4321, 4321);
  const run = await podman(['run', '--rm', '--health-interval', 'disable', '-e', `PUID=${PUID}`, '-e', `PGID=${PGID}`,
    '-e', 'DB_PATH=/data/harvester.db', '-v', `${shared}:/data`, IMAGE, 'backup', '/tmp/copy.db'], { allowFail: true });
  assert.equal(run.code, 0, `harvester backup as PUID:PGID: ${run.stderr}`);
  const db = statSync(join(shared, 'harvester.db'));
  assert.deepEqual([db.uid, db.gid], [PUID, PGID], 'the database is given to PUID:PGID');
  const other = statSync(join(shared, 'movie.mkv'));
  assert.deepEqual([other.uid, other.gid], [4321, 4321], 'the file beside it is left as it was');
});

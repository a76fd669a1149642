// The folder source over FTPS, end to end: the real CLI against a real vsftpd
// on loopback (explicit TLS forced, a self-signed certificate pinned; one server
// per file), `LOCAL_SEEDBOX_DIR=ftps://harvester-ftp@127.0.0.1:PORT/...`; a
// segmented file (DESIGN.md 8) over several FTP connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil, type CliRun } from '../helpers';
import { listFiles, sha256File, writeRandomFile } from '../helpers/files';
import { ftpsSkip, startVsftpd, type Vsftpd } from '../helpers/ftps';
import { startFakeArr } from '../fakes/arr-server';

const MiB = 1024 * 1024;
const skip = ftpsSkip();
let ftpd: Vsftpd;

before(async () => {
  if (!skip) ftpd = await startVsftpd();
});
after(async () => {
  await ftpd?.close();
});

/** A fresh seedbox folder on the server, and a local dir for the daemon. */
function setup(name: string): { dir: string; box: string; downloads: string; dbPath: string } {
  const dir = tempDir();
  const box = join(ftpd.root, name);
  mkdirSync(box, { recursive: true });
  return { dir, box, downloads: join(dir, 'downloads'), dbPath: join(dir, 'harvester.db') };
}

function daemon(s: ReturnType<typeof setup>, extra: NodeJS.ProcessEnv = {}): CliRun {
  return runCli(['run'], {
    cwd: s.dir,
    env: { ...ftpd.env(s.box), DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath, POLLING_INTERVAL: '300ms', LOG_LEVEL: 'info', ...extra },
  });
}

function snapshot(root: string): string[] {
  return listFiles(root).map((rel) => {
    const st = statSync(join(root, rel));
    return `${rel}:${st.size}:${st.mtimeMs}`;
  });
}

function partSize(path: string): number {
  try {
    return statSync(`${path}.part`).size;
  } catch {
    return 0;
  }
}

/** The run's exit code, or a failure (the child killed) if it is still running after `ms`. */
async function exitCode(run: CliRun, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'running'>((r) => { timer = setTimeout(() => r('running'), ms); });
  const result = await Promise.race([run.exited, late]);
  clearTimeout(timer);
  if (result === 'running') {
    run.child.kill('SIGKILL');
    assert.fail(`still running after ${ms} ms; output: ${(run.stdout() + run.stderr()).slice(-800)}`);
  }
  return result.code;
}

test('a folder dropped into the remote folder arrives byte-identical in the Local Layout, and the seedbox is not changed', { skip }, async () => {
  const s = setup('arrive');
  writeRandomFile(join(s.box, 'Show.S01', 'Show.S01E01.mkv'), 5 * MiB + 7);
  writeRandomFile(join(s.box, 'Show.S01', 'Subs', 'en.srt'), 1234);
  writeFileSync(join(s.box, 'Show.S01', 'empty.nfo'), '');
  writeRandomFile(join(s.box, 'Movie [2024] {x}.mkv'), 3 * MiB);
  writeRandomFile(join(s.box, 'Partial.mkv.part'), 1000);
  writeRandomFile(join(s.box, '.hidden'), 10);
  const before = snapshot(s.box);
  const run = daemon(s);
  try {
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    await waitUntil(() => run.lines.filter(ev('download.finished')).length === 2, 60_000, () => `both transfers downloaded; log: ${JSON.stringify(run.lines.slice(-4))}`);
    for (const rel of ['Show.S01/Show.S01E01.mkv', 'Show.S01/Subs/en.srt', 'Show.S01/empty.nfo', 'Movie [2024] {x}.mkv']) {
      assert.equal(await sha256File(join(s.downloads, rel)), await sha256File(join(s.box, rel)), `${rel} is byte-identical`);
    }
    assert.deepEqual(listFiles(s.downloads), ['Movie [2024] {x}.mkv', 'Show.S01/Show.S01E01.mkv', 'Show.S01/Subs/en.srt', 'Show.S01/empty.nfo']);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.deepEqual(snapshot(s.box), before, 'without SEED_RATIO nothing on the seedbox changes');
    assert.ok(!existsSync(join(s.dir, 'ftps:')), 'no folder named after the URL');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(s.dir);
  }
});

test('SIGKILL mid-file, then a restart: the copy resumes from the .part (REST) and arrives intact', { skip }, async () => {
  const s = setup('resume');
  const size = 12 * MiB;
  writeRandomFile(join(s.box, 'Big.Movie.mkv'), size);
  const part = join(s.downloads, 'Big.Movie.mkv');
  const first = daemon(s, { MAX_DOWNLOAD_RATE: '2M' });
  try {
    await waitUntil(() => partSize(part) >= 3 * MiB, 60_000, 'a few MiB in the .part');
    first.child.kill('SIGKILL');
    await first.exited;
  } finally {
    first.child.kill('SIGKILL');
  }
  const kept = partSize(part);
  assert.ok(kept >= 3 * MiB && kept < size, `the .part survived the kill (${kept} bytes)`);
  const second = daemon(s);
  try {
    const resumed = await second.waitForLine(ev('download.resumed'), 60_000, 'download.resumed');
    const offset = resumed.offset as number;
    assert.ok(offset > 0 && offset <= kept, `resumed at ${offset}`);
    await second.waitForLine(ev('download.finished'), 60_000, 'download.finished');
    assert.equal(await sha256File(part), await sha256File(join(s.box, 'Big.Movie.mkv')));
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  } finally {
    second.child.kill('SIGKILL');
    removeDir(s.dir);
  }
});

test('SEGMENTS=4: a file is fetched in ranges over 4 FTP connections at once (REST at each) and arrives byte-identical', { skip }, async () => {
  const s = setup('segmented');
  writeRandomFile(join(s.box, 'Film.2024.mkv'), 48 * MiB + 4321);
  // Slow enough that the ranges are seen in flight together.
  const run = daemon(s, { LOG_LEVEL: 'debug', SEGMENTS: '4', MIN_SEGMENT_SIZE: '4M', MAX_DOWNLOAD_RATE: '10M' });
  try {
    await run.waitForLine(ev('download.finished'), 120_000, 'download.finished');
    assert.equal(await sha256File(join(s.downloads, 'Film.2024.mkv')), await sha256File(join(s.box, 'Film.2024.mkv')), 'byte-identical');
    // Progress lines (every 2 s at debug) carry the file's connections: the four of SEGMENTS=4 at the most.
    const counts = run.lines.filter(ev('download.progress')).map((l) => Number(l.connections));
    assert.equal(Math.max(...counts), 4, `download.progress showed 4 connections (${counts.join(', ')})`);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(s.dir);
  }
});

test('vsftpd gone mid-file: the transfer retries and completes once it is back', { skip }, async () => {
  const s = setup('drop');
  writeRandomFile(join(s.box, 'Dropped.mkv'), 8 * MiB);
  const file = join(s.downloads, 'Dropped.mkv');
  const run = daemon(s, { MAX_DOWNLOAD_RATE: '2M' });
  try {
    await waitUntil(() => partSize(file) >= 2 * MiB, 60_000, 'the copy under way');
    await ftpd.stop();
    const retry = await run.waitForLine((l) => l.event === 'download.resuming' || l.event === 'download.failed', 60_000, 'a retry');
    await ftpd.start();
    if (retry.event === 'download.failed') assert.notEqual(retry.outcome, 'failed', 'a dropped seedbox is retried, not given up');
    await run.waitForLine(ev('download.finished'), 150_000, 'download.finished after vsftpd came back');
    assert.equal(await sha256File(file), await sha256File(join(s.box, 'Dropped.mkv')));
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await ftpd.start().catch(() => undefined);
    removeDir(s.dir);
  }
});

test('a hung vsftpd (its sessions stopped) or a stopped one never holds the daemon stop', { skip }, async () => {
  for (const how of ['hung', 'stopped'] as const) {
    const s = setup(`stall-${how}`);
    writeRandomFile(join(s.box, 'Stalled.mkv'), 8 * MiB);
    const file = join(s.downloads, 'Stalled.mkv');
    const run = daemon(s, { MAX_DOWNLOAD_RATE: '1M' });
    try {
      await waitUntil(() => partSize(file) >= 1 * MiB, 60_000, 'the copy under way');
      if (how === 'hung') ftpd.pauseSessions();
      else await ftpd.stop();
      const t0 = Date.now();
      run.child.kill('SIGTERM');
      const code = await exitCode(run, 20_000);
      const took = Date.now() - t0;
      assert.equal(code, 0, `a clean stop; stderr: ${run.stderr().slice(-500)}`);
      assert.ok(took < 10_000, `${how}: stopped in ${took} ms, within the supervisor's stop timeout`);
      assert.ok(partSize(file) > 0, 'the .part stays for the next attempt');
    } finally {
      ftpd.resumeSessions();
      await ftpd.start();
      run.child.kill('SIGKILL');
      removeDir(s.dir);
    }
  }
});

/** `harvester run` that must not start: exit 1 with one line, no stack, nothing downloaded. */
async function refusedStart(env: NodeJS.ProcessEnv, name: string): Promise<string> {
  const s = setup(name);
  writeRandomFile(join(s.box, 'Never.mkv'), 1000);
  const run = runCli(['run'], { cwd: s.dir, env: { ...ftpd.env(s.box), DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath, ...env } });
  const code = await exitCode(run, 30_000);
  const out = run.stdout() + run.stderr();
  assert.equal(code, 1, `exit 1; output: ${out.slice(-800)}`);
  assert.ok(!/\n\s+at /.test(out), `no stack trace: ${out}`);
  const downloaded = existsSync(s.downloads) ? readdirSync(s.downloads) : [];
  assert.deepEqual(downloaded, [], 'no byte read');
  assert.deepEqual(readdirSync(s.dir).filter((n) => n.endsWith(':')), [], 'no folder named after a URL');
  removeDir(s.dir);
  return out;
}

test('an ftsp:// typo, a missing password, a wrong one, a certificate not pinned: one clear line, exit 1, no secret', { skip }, async () => {
  const typo = await refusedStart({ LOCAL_SEEDBOX_DIR: `ftsp://${ftpd.user}@127.0.0.1:${ftpd.port}/srv` }, 'typo');
  assert.match(typo, /LOCAL_SEEDBOX_DIR: is a ftsp:\/\/ URL, which harvester does not read \(use sftp:\/\/user@host\[:port\]\/path, ftps:\/\/user@host\[:port\]\/path, or a folder\)/);
  const missing = await refusedStart({ FTP_PASSWORD: '' }, 'no-password');
  assert.match(missing, /FTP_PASSWORD: is required when LOCAL_SEEDBOX_DIR is an ftps:\/\/ URL/);
  const password = 'wrong-pw-s3cr3t';
  const wrong = await refusedStart({ FTP_PASSWORD: password }, 'wrong-password');
  assert.match(wrong, /login refused \(FTP_PASSWORD\)/);
  assert.ok(!wrong.includes(password), 'the password is not printed');
  const unpinned = await refusedStart({ FTP_CERT_FINGERPRINT: '' }, 'unpinned');
  assert.match(unpinned, /is not trusted by this system's CAs/);
  assert.ok(unpinned.includes(`FTP_CERT_FINGERPRINT=${ftpd.fingerprint}`), unpinned);
  assert.ok(!unpinned.includes(ftpd.password) && !wrong.includes(ftpd.password), 'the real password is never printed either');
  const plain = await refusedStart({ LOCAL_SEEDBOX_DIR: `ftp://${ftpd.user}@127.0.0.1:${ftpd.port}/srv` }, 'plain');
  assert.match(plain, /LOCAL_SEEDBOX_DIR: is a plain ftp:\/\/ URL.*FTP_INSECURE=1/);
  // Allowed by name, plain FTP is warned about at start; this server then refuses a login without TLS.
  const insecure = await refusedStart({ LOCAL_SEEDBOX_DIR: `ftp://${ftpd.user}@127.0.0.1:${ftpd.port}/srv`, FTP_INSECURE: '1' }, 'insecure');
  const warning = insecure.split('\n').find((l) => l.includes('"event":"config.warning"'));
  assert.ok(warning && /plain ftp:\/\/ \(FTP_INSECURE=1\): the FTP password and the files cross the network unencrypted/.test(warning), insecure);
  assert.match(insecure, /login refused \(FTP_PASSWORD\): 530 Non-anonymous sessions must use encryption/);
  assert.ok(!insecure.includes(ftpd.password));
});

test('harvester check names the transport: host, the pinned certificate, a test listing of the folder', { skip }, async () => {
  const s = setup('check');
  writeRandomFile(join(s.box, 'One.mkv'), 10);
  mkdirSync(join(s.box, 'Two'));
  try {
    const run = runCli(['check'], { cwd: s.dir, env: { ...ftpd.env(s.box), DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath } });
    const { code } = await run.exited;
    const out = run.stdout() + run.stderr();
    assert.equal(code, 0, out);
    assert.ok(out.includes(`ftps ${ftpd.user}@127.0.0.1:${ftpd.port}, TLS certificate SHA-256 ${ftpd.fingerprint} (pinned by FTP_CERT_FINGERPRINT); folder ${s.box}: 2 entries`), out);
    assert.ok(!out.includes(ftpd.password));
  } finally {
    removeDir(s.dir);
  }
});

test('SEED_RATIO=0 deletes the imported entry on the seedbox over FTP (DELE, RMD), and only that one', { skip }, async () => {
  const s = setup('seed');
  writeRandomFile(join(s.box, 'Imported.Show', 'e01.mkv'), 2 * MiB);
  writeRandomFile(join(s.box, 'Imported.Show', 'Subs', 'en.srt'), 100);
  writeRandomFile(join(s.box, 'Not.Imported.mkv'), 1 * MiB);
  ftpd.share(s.box); // the FTP user may delete what the test wrote as root
  const sonarr = await startFakeArr({ kind: 'sonarr' });
  sonarr.addRecord({ eventType: 'downloadFolderImported', droppedPath: join(s.downloads, 'Imported.Show'), sourceTitle: 'Imported.Show' });
  const run = daemon(s, { SEED_RATIO: '0', SONARR_BASE_URL: sonarr.url, SONARR_API_KEY: sonarr.apiKey });
  try {
    await waitUntil(() => run.lines.filter(ev('download.finished')).length === 2, 60_000, 'both downloaded');
    await waitUntil(() => !existsSync(join(s.box, 'Imported.Show')), 60_000, () => `the imported entry removed from the seedbox; log: ${JSON.stringify(run.lines.slice(-5))}`);
    assert.ok(existsSync(join(s.box, 'Not.Imported.mkv')), 'the entry no *arr imported stays on the seedbox');
    assert.ok(existsSync(join(s.downloads, 'Imported.Show', 'e01.mkv')), 'the local copy stays');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await sonarr.close();
    removeDir(s.dir);
  }
});

// The folder source over SFTP, end to end: the real CLI against a real OpenSSH
// sshd on loopback (one per file), `LOCAL_SEEDBOX_DIR=sftp://root@127.0.0.1:PORT/...`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil, type CliRun } from '../helpers';
import { listFiles, sha256File, writeRandomFile } from '../helpers/files';
import { startSshd, type Sshd } from '../helpers/sshd';
import { startFakeArr } from '../fakes/arr-server';

const MiB = 1024 * 1024;
let sshd: Sshd;

before(async () => {
  sshd = await startSshd();
});
after(async () => {
  await sshd?.close();
});

/** A fresh seedbox folder on the sshd, and a local dir for the daemon. */
function setup(name: string): { dir: string; box: string; downloads: string; dbPath: string } {
  const dir = tempDir();
  const box = join(sshd.root, name);
  mkdirSync(box, { recursive: true });
  return { dir, box, downloads: join(dir, 'downloads'), dbPath: join(dir, 'harvester.db') };
}

function daemon(s: ReturnType<typeof setup>, extra: NodeJS.ProcessEnv = {}): CliRun {
  return runCli(['run'], {
    cwd: s.dir,
    env: { ...sshd.env(s.box), DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath, POLLING_INTERVAL: '300ms', LOG_LEVEL: 'info', ...extra },
  });
}

/** Path, size and mtime of everything under a folder: "nothing on the remote changed". */
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

test('a folder dropped into the remote folder arrives byte-identical in the Local Layout, and the seedbox is not changed', async () => {
  const s = setup('arrive');
  writeRandomFile(join(s.box, 'Show.S01', 'Show.S01E01.mkv'), 5 * MiB + 7);
  writeRandomFile(join(s.box, 'Show.S01', 'Subs', 'en.srt'), 1234);
  writeFileSync(join(s.box, 'Show.S01', 'empty.nfo'), '');
  writeRandomFile(join(s.box, 'Movie.2024.mkv'), 3 * MiB);
  // Not transfers: a file still being written, a dotfile.
  writeRandomFile(join(s.box, 'Partial.mkv.part'), 1000);
  writeRandomFile(join(s.box, '.hidden'), 10);
  const before = snapshot(s.box);
  const run = daemon(s, { SFTP_HOST_KEY: '', SFTP_KNOWN_HOSTS: sshd.knownHosts });
  try {
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    await waitUntil(() => run.lines.filter(ev('download.finished')).length === 2, 60_000, 'both transfers downloaded');
    for (const rel of ['Show.S01/Show.S01E01.mkv', 'Show.S01/Subs/en.srt', 'Show.S01/empty.nfo', 'Movie.2024.mkv']) {
      assert.equal(await sha256File(join(s.downloads, rel)), await sha256File(join(s.box, rel)), `${rel} is byte-identical`);
    }
    assert.deepEqual(listFiles(s.downloads), ['Movie.2024.mkv', 'Show.S01/Show.S01E01.mkv', 'Show.S01/Subs/en.srt', 'Show.S01/empty.nfo']);
    await waitUntil(() => run.lines.filter(ev('transfer.imported')).length === 2, 30_000, 'both imported (no *arr)');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    assert.deepEqual(snapshot(s.box), before, 'without SEED_RATIO nothing on the seedbox changes');
    assert.ok(!existsSync(join(s.dir, 'sftp:')), 'no folder named after the URL');
  } finally {
    run.child.kill('SIGKILL');
    removeDir(s.dir);
  }
});

test('SIGKILL mid-file, then a restart: the copy resumes from the .part and arrives intact', async () => {
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
    assert.ok(size - offset < size, 'fewer bytes read after the restart than the file has');
    await second.waitForLine(ev('download.finished'), 60_000, 'download.finished');
    assert.equal(await sha256File(part), await sha256File(join(s.box, 'Big.Movie.mkv')));
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  } finally {
    second.child.kill('SIGKILL');
    removeDir(s.dir);
  }
});

test('sshd gone mid-file: the transfer retries and completes once sshd is back', async () => {
  const s = setup('drop');
  writeRandomFile(join(s.box, 'Dropped.mkv'), 8 * MiB);
  const file = join(s.downloads, 'Dropped.mkv');
  const run = daemon(s, { MAX_DOWNLOAD_RATE: '2M' });
  try {
    await waitUntil(() => partSize(file) >= 2 * MiB, 60_000, 'the copy under way');
    await sshd.stop();
    const retry = await run.waitForLine((l) => l.event === 'download.resuming' || l.event === 'download.failed', 30_000, 'a retry');
    await sshd.start();
    if (retry.event === 'download.failed') assert.notEqual(retry.outcome, 'failed', 'a dropped seedbox is retried, not given up');
    await run.waitForLine(ev('download.finished'), 150_000, 'download.finished after sshd came back');
    assert.equal(await sha256File(file), await sha256File(join(s.box, 'Dropped.mkv')));
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    await sshd.start().catch(() => undefined);
    removeDir(s.dir);
  }
});

test('a stalled sshd (its sessions stopped) never holds the daemon stop', async () => {
  const s = setup('stall');
  writeRandomFile(join(s.box, 'Stalled.mkv'), 8 * MiB);
  const file = join(s.downloads, 'Stalled.mkv');
  const run = daemon(s, { MAX_DOWNLOAD_RATE: '1M' });
  try {
    await waitUntil(() => partSize(file) >= 1 * MiB, 60_000, 'the copy under way');
    sshd.pauseSessions();
    const t0 = Date.now();
    run.child.kill('SIGTERM');
    const code = await exitCode(run, 20_000);
    const took = Date.now() - t0;
    assert.equal(code, 0, `a clean stop; stderr: ${run.stderr().slice(-500)}`);
    assert.ok(took < 10_000, `stopped in ${took} ms, within the supervisor's stop timeout`);
    assert.ok(partSize(file) > 0, 'the .part stays for the next attempt');
  } finally {
    sshd.resumeSessions();
    run.child.kill('SIGKILL');
    removeDir(s.dir);
  }
});

/** The run's exit code, or a failure (the child killed) if it is still running after `ms`: it started when it must not. */
async function exitCode(run: CliRun, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'running'>((r) => { timer = setTimeout(() => r('running'), ms); });
  const result = await Promise.race([run.exited, late]);
  clearTimeout(timer);
  if (result === 'running') {
    run.child.kill('SIGKILL');
    assert.fail(`still running after ${ms} ms: it should have stopped at start; output: ${(run.stdout() + run.stderr()).slice(-800)}`);
  }
  return result.code;
}

/** `harvester run` that must not start: exit 1 with one line, nothing downloaded. */
async function refusedStart(env: NodeJS.ProcessEnv, name: string): Promise<{ out: string; dir: string; downloads: string }> {
  const s = setup(name);
  writeRandomFile(join(s.box, 'Never.mkv'), 1000);
  const run = runCli(['run'], { cwd: s.dir, env: { ...sshd.env(s.box), DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath, ...env } });
  const code = await exitCode(run, 30_000);
  const out = run.stdout() + run.stderr();
  assert.equal(code, 1, `exit 1; output: ${out.slice(-800)}`);
  assert.ok(!/\n\s+at /.test(out), `no stack trace: ${out}`);
  const downloaded = existsSync(s.downloads) ? readdirSync(s.downloads) : [];
  assert.deepEqual(downloaded, [], 'no byte read');
  assert.deepEqual(readdirSync(s.dir).filter((n) => n.endsWith(':')), [], 'no folder named after a URL');
  removeDir(s.dir);
  return { out, dir: s.dir, downloads: s.downloads };
}

test('an unknown host key and a changed one are refused at start, naming the fingerprint to pin', async () => {
  const dir = tempDir();
  try {
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const unknown = await refusedStart({ SFTP_HOST_KEY: '', SFTP_KNOWN_HOSTS: empty }, 'unknown-key');
    assert.ok(unknown.out.includes(sshd.hostFingerprint), `the fingerprint is named: ${unknown.out}`);
    assert.match(unknown.out, /is not in SFTP_KNOWN_HOSTS/);
    // Another key for the same [host]:port: the key changed.
    const other = join(dir, 'other_known_hosts');
    writeFileSync(other, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFi2oZoyzTFx6Mj2uOfmKQDVqSYsrAkvEJ7gGxj6EDkn\n`);
    const changed = await refusedStart({ SFTP_HOST_KEY: '', SFTP_KNOWN_HOSTS: other }, 'changed-key');
    assert.match(changed.out, /differs from the one in SFTP_KNOWN_HOSTS/);
    assert.ok(changed.out.includes(sshd.hostFingerprint));
    const pinned = await refusedStart({ SFTP_HOST_KEY: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' }, 'pinned-key');
    assert.match(pinned.out, /does not match SFTP_HOST_KEY/);
    assert.ok(pinned.out.includes(`SFTP_HOST_KEY=${sshd.hostFingerprint}`));
  } finally {
    removeDir(dir);
  }
});

test('a wrong password, a missing key file, a key that needs a passphrase, an sfpt:// typo: one clear line, exit 1, no secret', async () => {
  const password = 'wrong-pw-s3cr3t';
  const wrong = await refusedStart({ SFTP_PRIVATE_KEY: '', SFTP_PASSWORD: password }, 'wrong-password');
  assert.match(wrong.out, /login refused \(tried SFTP_PASSWORD\)/);
  assert.ok(!wrong.out.includes(password), 'the password is not printed');
  const missing = await refusedStart({ SFTP_PRIVATE_KEY: '/nonexistent/id_ed25519' }, 'missing-key');
  assert.match(missing.out, /SFTP_PRIVATE_KEY: \/nonexistent\/id_ed25519 cannot be read \(no such file\)/);
  const encrypted = await refusedStart({ SFTP_PRIVATE_KEY: sshd.encryptedKey }, 'encrypted-key');
  assert.match(encrypted.out, /SFTP_PASSPHRASE: is required/);
  const badPassphrase = await refusedStart({ SFTP_PRIVATE_KEY: sshd.encryptedKey, SFTP_PASSPHRASE: 'not-it-s3cr3t' }, 'bad-passphrase');
  assert.match(badPassphrase.out, /SFTP_PASSPHRASE: does not decrypt/);
  assert.ok(!badPassphrase.out.includes('not-it-s3cr3t'));
  const typo = await refusedStart({ LOCAL_SEEDBOX_DIR: `sfpt://root@127.0.0.1:${sshd.port}/srv` }, 'typo');
  assert.match(typo.out, /LOCAL_SEEDBOX_DIR: is a sfpt:\/\/ URL, which harvester does not read/);
  // The encrypted key with its passphrase works (the same key is authorized).
  const dir = tempDir();
  try {
    const run = runCli(['check'], { cwd: dir, env: { ...sshd.env(sshd.root), SFTP_PRIVATE_KEY: sshd.encryptedKey, SFTP_PASSPHRASE: sshd.passphrase } });
    assert.equal((await run.exited).code, 0, run.stdout() + run.stderr());
    assert.ok(!(run.stdout() + run.stderr()).includes(sshd.passphrase));
  } finally {
    removeDir(dir);
  }
});

test('an unreachable host stops start-up with one line naming the host', async () => {
  const s = setup('unreachable');
  try {
    const run = runCli(['run'], {
      cwd: s.dir,
      env: { ...sshd.env(s.box), LOCAL_SEEDBOX_DIR: 'sftp://root@127.0.0.1:9/srv', DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath },
    });
    const code = await exitCode(run, 30_000);
    const out = run.stdout() + run.stderr();
    assert.equal(code, 1);
    assert.match(out, /LOCAL_SEEDBOX_DIR sftp:\/\/root@127\.0\.0\.1:9\/srv: sftp root@127\.0\.0\.1:9: cannot connect \(ECONNREFUSED\)/);
  } finally {
    removeDir(s.dir);
  }
});

test('harvester check names the transport: host, host key fingerprint, a test listing of the folder', async () => {
  const s = setup('check');
  writeRandomFile(join(s.box, 'One.mkv'), 10);
  mkdirSync(join(s.box, 'Two'));
  try {
    const run = runCli(['check'], { cwd: s.dir, env: { ...sshd.env(s.box), DOWNLOAD_DIR: s.downloads, DB_PATH: s.dbPath } });
    const { code } = await run.exited;
    const out = run.stdout() + run.stderr();
    assert.equal(code, 0, out);
    assert.ok(out.includes(`ok    seedbox (local): sftp root@127.0.0.1:${sshd.port}, host key ${sshd.hostFingerprint}; folder ${s.box}: 2 entries`), out);
    assert.match(out, new RegExp(`LOCAL_SEEDBOX_DIR\\s+sftp://root@127\\.0\\.0\\.1:${sshd.port}${s.box}`));
  } finally {
    removeDir(s.dir);
  }
});

test('SEED_RATIO=0 deletes the imported entry on the seedbox, and only that one', async () => {
  const s = setup('seed');
  writeRandomFile(join(s.box, 'Imported.Show', 'e01.mkv'), 2 * MiB);
  writeRandomFile(join(s.box, 'Not.Imported.mkv'), 1 * MiB);
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

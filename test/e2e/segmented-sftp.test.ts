// A segmented file over SFTP (DESIGN.md 8), through the real CLI and a real
// OpenSSH sshd on loopback: `SEGMENTS=4` reads the file's ranges at their
// offsets over several SSH connections at once (one TCP stream each: a
// provider's per-connection shaping caps each, not the sum), and the file
// arrives byte-identical.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { sha256File, writeRandomFile } from '../helpers/files';
import { startSshd, type Sshd } from '../helpers/sshd';

const MiB = 1024 * 1024;
let sshd: Sshd;

before(async () => {
  sshd = await startSshd();
});
after(async () => {
  await sshd?.close();
});

test('over SFTP a file is fetched in ranges over several SSH connections and arrives byte-identical', async () => {
  const dir = tempDir();
  const box = join(sshd.root, 'segmented');
  mkdirSync(box, { recursive: true });
  writeRandomFile(join(box, 'Film.2024.mkv'), 64 * MiB + 4321);
  const downloads = join(dir, 'downloads');
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      ...sshd.env(box), SFTP_HOST_KEY: '', SFTP_KNOWN_HOSTS: sshd.knownHosts, DOWNLOAD_DIR: downloads, DB_PATH: join(dir, 'harvester.db'),
      POLLING_INTERVAL: '300ms', LOG_LEVEL: 'debug', SEGMENTS: '4', MIN_SEGMENT_SIZE: '4M',
      // Slow enough that the ranges are seen in flight together.
      MAX_DOWNLOAD_RATE: '10M',
    },
  });
  try {
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    let most = 0;
    await waitUntil(() => {
      most = Math.max(most, sshd.sessionCount());
      return run.lines.some(ev('download.finished'));
    }, 120_000, 'the film downloaded');
    assert.equal(await sha256File(join(downloads, 'Film.2024.mkv')), await sha256File(join(box, 'Film.2024.mkv')), 'byte-identical');
    // One connection lists the folder; the four ranges read over connections of their own beside it.
    assert.ok(most >= 4, `several SSH connections at once (${most})`);
    const progress = run.lines.filter(ev('download.progress'));
    // Progress lines (every 2 s at debug) carry the file's connections: the four of SEGMENTS=4 at the most.
    const counts = progress.map((l) => Number(l.connections));
    assert.equal(Math.max(...counts), 4, `download.progress showed the 4 connections (${counts.join(', ')})`);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  } finally {
    run.child.kill('SIGKILL');
    removeDir(dir);
  }
});

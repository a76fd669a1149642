// The daemon end to end on its embedded default (the `local` client), as a
// user runs it: the real CLI, a seedbox folder, a download folder, a webhook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles, sha256File, writeRandomFile } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { startFakeWebhook } from '../fakes/webhook-server';

const MiB = 1024 * 1024;

function states(dbPath: string): Map<string, string> {
  const all = queryDb(dbPath, (db) => db.prepare('SELECT id, state FROM transfers').all() as Array<{ id: string; state: string }>) ?? [];
  return new Map(all.map((r) => [r.id, r.state]));
}

test('files of several sizes dropped into the seedbox folder arrive byte-identical, each notified once', async () => {
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'state', 'harvester.db');
  mkdirSync(seedbox, { recursive: true });
  writeRandomFile(join(seedbox, 'Big.Movie.2024.mkv'), 300 * MiB);
  writeRandomFile(join(seedbox, 'Show.S01', 'Show.S01E01.mkv'), 7 * MiB + 3);
  writeRandomFile(join(seedbox, 'Show.S01', 'Subs', 'en.srt'), 1234);
  writeFileSync(join(seedbox, 'Show.S01', 'empty.nfo'), '');
  writeRandomFile(join(seedbox, 'tiny.bin'), 1);
  const webhook = await startFakeWebhook();
  const run = runCli(['run'], {
    cwd: dir,
    env: { LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms', WEBHOOK_URL: webhook.url, LOG_LEVEL: 'info' },
  });
  try {
    await run.waitForLine(ev('supervisor.ready'), 30_000);
    // Three transfers: each is downloaded, then (no *arr) imported, then kept seeding (no SEED_RATIO for local).
    await waitUntil(() => {
      const s = states(dbPath);
      return s.size === 3 && [...s.values()].every((v) => v === 'seeding');
    }, 120_000, 'every transfer downloaded and imported');
    assert.deepEqual(listFiles(downloads), listFiles(seedbox), 'the Local Layout mirrors the seedbox: single files bare, folders with their root');
    for (const rel of listFiles(seedbox)) {
      assert.equal(await sha256File(join(downloads, rel)), await sha256File(join(seedbox, rel)), `${rel} is byte-identical`);
    }
    await webhook.waitForRequests(3);
    const bodies = webhook.received.map((r) => r.json as { id: string; event: string; name: string; time: string });
    assert.deepEqual(bodies.map((b) => b.event), ['download.finished', 'download.finished', 'download.finished']);
    assert.deepEqual(bodies.map((b) => b.name).sort(), ['Big.Movie.2024.mkv', 'Show.S01', 'tiny.bin']);
    assert.equal(new Set(bodies.map((b) => b.id)).size, 3, 'each notification has its own id');
    assert.ok(bodies.every((b) => !Number.isNaN(Date.parse(b.time))));
    // The store saw each step.
    assert.ok(run.lines.filter(ev('transfer.queued')).length === 3);
    assert.ok(run.lines.filter(ev('download.finished')).length === 3);
    assert.ok(run.lines.filter(ev('transfer.imported')).length === 3);
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
    // The seedbox folder is left untouched (no SEED_RATIO configured for local).
    assert.equal(listFiles(seedbox).length, 5);
    assert.equal(webhook.received.length, 3, 'no duplicate notification');
  } finally {
    run.child.kill('SIGKILL');
    await webhook.close();
    removeDir(dir);
  }
});

// The whole process killed with SIGKILL at random moments during downloads,
// then started again, several times: every file arrives exactly once and
// intact, no `.part` is left in the library, every notification is delivered
// (a repeat only with the same dedupe id, see checkDeliveries).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkDeliveries, ev, prng, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles, sha256File, writeRandomFile } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { startFakeWebhook } from '../fakes/webhook-server';

const MiB = 1024 * 1024;

const readDb = queryDb;

test('SIGKILL of the whole process at random moments loses nothing and downloads nothing twice', async () => {
  const seed = Number(process.env.HARVESTER_TEST_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'harvester.db');
  mkdirSync(seedbox, { recursive: true });
  const sizes = [1, 3, 9, 14, 22, 31, 40];
  sizes.forEach((mb, i) => writeRandomFile(join(seedbox, `file-${i}.bin`), mb * MiB + i));
  writeRandomFile(join(seedbox, 'Season 1', 'e01.mkv'), 25 * MiB);
  writeRandomFile(join(seedbox, 'Season 1', 'e02.mkv'), 25 * MiB + 7);
  writeRandomFile(join(seedbox, 'Season 1', 'extras', 'info.txt'), 999);
  const transfers = sizes.length + 1;
  const webhook = await startFakeWebhook();
  const env = {
    LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '200ms',
    WEBHOOK_URL: webhook.url, MAX_PARALLEL: '3', MAX_DOWNLOAD_RATE: '30M', LOG_LEVEL: 'info',
  };
  const done = (): boolean => readDb(dbPath, (db) => {
    const rows = db.prepare('SELECT state FROM transfers').all() as Array<{ state: string }>;
    return rows.length === transfers && rows.every((r) => r.state === 'seeding');
  }) === true;

  let kills = 0;
  let killsMidDownload = 0;
  try {
    for (let round = 0; round < 12 && !done(); round++) {
      const run = runCli(['run'], { cwd: dir, env });
      // Kill at a random moment: half the rounds during start-up, the others once downloads run.
      if (random() < 0.3) {
        await new Promise((r) => setTimeout(r, Math.floor(random() * 1500)));
      } else {
        await run.waitForLine(ev('download.started'), 60_000).catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.floor(random() * 2000)));
        if (!done()) killsMidDownload++;
      }
      run.child.kill('SIGKILL');
      await run.exited;
      kills++;
    }
    // The last start runs to the end.
    const last = runCli(['run'], { cwd: dir, env });
    try {
      await last.waitForLine(ev('supervisor.ready'), 60_000);
      await waitUntil(() => done(), 120_000, `every transfer home (seed ${seed})`);
      await webhook.waitForDistinct(transfers);
      last.child.kill('SIGTERM');
      assert.equal((await last.exited).code, 0);
    } finally {
      last.child.kill('SIGKILL');
    }
    assert.ok(kills >= 4 && killsMidDownload >= 3, `seed ${seed}: ${kills} kills, ${killsMidDownload} during downloads`);
    assert.deepEqual(listFiles(downloads), listFiles(seedbox), `seed ${seed}: every file exactly once, no .part left`);
    for (const rel of listFiles(seedbox)) {
      assert.equal(await sha256File(join(downloads, rel)), await sha256File(join(seedbox, rel)), `seed ${seed}: ${rel} intact`);
    }
    assert.equal(readDb(dbPath, (db) => db.pragma('integrity_check', { simple: true })), 'ok');
    const repeats = checkDeliveries(webhook.received.map((r) => r.json), transfers);
    assert.ok(repeats <= kills, `seed ${seed}: ${repeats} repeats for ${kills} kills`);
  } finally {
    await webhook.close();
    removeDir(dir);
  }
});

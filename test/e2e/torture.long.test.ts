// Crash torture: 50 SIGKILLs of the whole process at random moments (mid-
// download, mid-verification, mid-rename, mid-database write) over one run with
// a few hundred files. After the last start every file is in DOWNLOAD_DIR
// exactly once and intact, the database passes integrity_check, no .part is
// left, and each notification was delivered (at least once, a repeat with the
// same dedupe id only when a kill fell between the receiver's answer and our
// commit). Long: left out of --quick.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkDeliveries, ev, prng, removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { listFiles, sha256File, writeRandomFile } from '../helpers/files';
import { queryDb } from '../helpers/db';
import { startFakeWebhook } from '../fakes/webhook-server';

const KILLS = Number(process.env.HARVESTER_TORTURE_KILLS ?? 50);

test(`${KILLS} SIGKILLs over a run of 300 files: every file once and intact, database sound, notifications delivered`, async () => {
  const seed = Number(process.env.HARVESTER_TEST_SEED ?? Date.now() % 100_000);
  const random = prng(seed);
  const dir = tempDir();
  const seedbox = join(dir, 'seedbox');
  const downloads = join(dir, 'downloads');
  const dbPath = join(dir, 'h.db');
  mkdirSync(seedbox, { recursive: true });
  let transfers = 0;
  for (let i = 0; i < 240; i++, transfers++) writeRandomFile(join(seedbox, `file-${String(i).padStart(3, '0')}.bin`), 1000 + Math.floor(random() * 2_000_000));
  for (let i = 0; i < 20; i++, transfers++) {
    for (let j = 0; j < 3; j++) writeRandomFile(join(seedbox, `Folder ${i}`, `part-${j}.bin`), 1000 + Math.floor(random() * 1_500_000));
  }
  const webhook = await startFakeWebhook();
  const env = {
    LOCAL_SEEDBOX_DIR: seedbox, DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '200ms',
    WEBHOOK_URL: webhook.url, MAX_PARALLEL: '4', MAX_DOWNLOAD_RATE: '4M', LOG_LEVEL: 'info',
  };
  const home = (): number => queryDb(dbPath, (db) => (db.prepare("SELECT count(*) AS n FROM transfers WHERE state = 'seeding'").get() as { n: number }).n) ?? 0;
  let kills = 0;
  try {
    while (kills < KILLS && home() < transfers) {
      const run = runCli(['run'], { cwd: dir, env });
      if (random() < 0.2) {
        await new Promise((r) => setTimeout(r, Math.floor(random() * 1200)));
      } else {
        await run.waitForLine(ev('supervisor.ready'), 60_000).catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.floor(random() * 2500)));
      }
      run.child.kill('SIGKILL');
      await run.exited;
      kills++;
    }
    const last = runCli(['run'], { cwd: dir, env });
    try {
      await last.waitForLine(ev('supervisor.ready'), 60_000);
      await waitUntil(() => home() === transfers, 300_000, `every transfer home (seed ${seed}, ${kills} kills)`);
      await webhook.waitForDistinct(transfers);
      last.child.kill('SIGTERM');
      assert.equal((await last.exited).code, 0);
    } finally {
      last.child.kill('SIGKILL');
    }
    assert.deepEqual(listFiles(downloads), listFiles(seedbox), `seed ${seed}: every file exactly once, no .part`);
    for (const rel of listFiles(seedbox)) {
      assert.equal(await sha256File(join(downloads, rel)), await sha256File(join(seedbox, rel)), `seed ${seed}: ${rel} intact`);
    }
    assert.equal(queryDb(dbPath, (db) => db.pragma('integrity_check', { simple: true })), 'ok');
    // Every notification arrived; a kill right after a webhook answered may repeat one, same id and body.
    const repeats = checkDeliveries(webhook.received.map((r) => r.json), transfers);
    assert.ok(repeats <= kills, `seed ${seed}: ${repeats} repeats for ${kills} kills`);
    assert.ok(kills >= KILLS, `seed ${seed}: only ${kills} kills before everything was home; slow the run down`);
    console.log(`torture: seed ${seed}, ${kills} SIGKILLs, ${transfers} transfers, ${listFiles(seedbox).length} files, all intact; ${repeats} notification repeat(s) with the same id`);
  } finally {
    await webhook.close();
    removeDir(dir);
  }
});

// A remote that stalls in the middle of a download holds only that file: the
// other transfers go on, and nothing is reported done that is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, runCli, tempDir, waitUntil } from '../helpers';
import { transferState } from '../helpers/db';
import { startFakePutio } from '../fakes/putio-server';

test('a download stalled by the seedbox does not block the other transfers', async () => {
  const dir = tempDir();
  const putio = await startFakePutio({ label: 'harvester' });
  const slow = putio.addTransfer({ name: 'Stalls', status: 'COMPLETED', files: [{ path: 'stalls.bin', content: randomBytes(2_000_000) }] });
  // The first download sends 100 kB, then goes silent with the socket open.
  putio.inject({ kind: 'stall-body', afterBytes: 100_000, times: 1, match: 'GET /download/:id' });
  const dbPath = join(dir, 'h.db');
  const run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: putio.token, PUTIO_API_URL: putio.url, TARGET_LABEL: 'harvester',
      DOWNLOAD_DIR: join(dir, 'downloads'), DB_PATH: dbPath, POLLING_INTERVAL: '300ms', MAX_PARALLEL: '2', PUTIO_SEED_RATIO: 'never',
    },
  });
  try {
    await waitUntil(() => transferState(dbPath, `putio:${slow.id}`) === 'downloading', 30_000, 'the first transfer downloading');
    await waitUntil(() => putio.requests.some((r) => r.key === 'GET /download/:id'), 30_000, 'the stalled download begun');
    const others = [1, 2, 3].map((i) => ({ content: randomBytes(300_000), i }));
    const added = others.map((o) => putio.addTransfer({ name: `Other ${o.i}`, status: 'COMPLETED', files: [{ path: `other-${o.i}.bin`, content: o.content }] }));
    for (const t of added) await waitUntil(() => transferState(dbPath, `putio:${t.id}`) === 'seeding', 30_000, `Other ${t.id} home`);
    for (const o of others) assert.deepEqual(readFileSync(join(dir, 'downloads', `other-${o.i}.bin`)), o.content);
    assert.equal(transferState(dbPath, `putio:${slow.id}`), 'downloading', 'the stalled one is still not done');
    assert.ok(!existsSync(join(dir, 'downloads', 'stalls.bin')), 'nothing reported at a path that is not complete');
    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0, 'a stalled download does not hold up the stop');
  } finally {
    run.child.kill('SIGKILL');
    await putio.close();
    removeDir(dir);
  }
});

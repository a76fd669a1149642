// Several replicas of the daemon on one put.io account and one PostgreSQL
// (DB_URL), sharing one DOWNLOAD_DIR (the NAS case; issue 17): every transfer
// is downloaded by exactly one replica, once. The replica holding the leader
// lease and one in the middle of a download are killed with SIGKILL: the
// others finish everything, no file is fetched from its first byte twice, and
// no notification goes out under two ids. PostgreSQL restarted under running
// replicas loses and doubles nothing. A real PostgreSQL 15 (test/helpers/postgres.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { checkDeliveries, ev, opsUrlOf, removeDir, runCli, tempDir, waitForMoreTicks, waitUntil, waitUntilAsync, type CliRun } from '../helpers';
import { listFiles } from '../helpers/files';
import { postgresSkip, startPostgres, type Postgres } from '../helpers/postgres';
import { startFakePutio, type FakePutio } from '../fakes/putio-server';
import { startFakeWebhook, type FakeWebhook } from '../fakes/webhook-server';

const KiB = 1024;
const skip = postgresSkip();
let pg: Postgres | undefined;
before(async () => {
  if (!skip) pg = await startPostgres();
});
after(async () => {
  await pg?.close();
});

interface Replica {
  name: string;
  run: CliRun;
  killed: boolean;
}

/** Transfer states in the shared database, by put.io id (undefined while PostgreSQL is away). */
async function states(url: string): Promise<Map<string, string> | undefined> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query<{ remote_id: string; state: string }>('SELECT remote_id, state FROM transfers');
    return new Map(r.rows.map((row) => [row.remote_id, row.state]));
  } catch {
    return undefined;
  } finally {
    await c.end().catch(() => {});
  }
}

/** 100 put.io transfers, one file each: mostly small, every fifth a larger one that takes a while at the replicas' rate cap. */
function addTransfers(fake: FakePutio, count: number): Map<number, { path: string; content: Buffer; fileId: number }> {
  const files = new Map<number, { path: string; content: Buffer; fileId: number }>();
  for (let i = 0; i < count; i++) {
    const content = randomBytes(i % 5 === 0 ? 768 * KiB + i : 24 * KiB + i);
    const path = `file-${String(i).padStart(3, '0')}.bin`;
    const t = fake.addTransfer({ name: `Transfer ${i}`, status: 'COMPLETED', files: [{ path, content }], downloaded: 100, uploaded: 100 });
    files.set(t.id, { path, content, fileId: t.files[0]!.id });
  }
  return files;
}

function startReplica(name: string, env: NodeJS.ProcessEnv, dir: string): Replica {
  return { name, run: runCli(['run'], { cwd: dir, env }), killed: false };
}

const leaderOf = (replicas: Replica[], loop: string): Replica | undefined =>
  // The last one that took the lease and is alive holds it.
  replicas.filter((r) => !r.killed && r.run.lines.some(ev('loop.leader', { operation: loop })))
    .sort((a, b) => lastTime(b, loop) - lastTime(a, loop))[0];

function lastTime(r: Replica, loop: string): number {
  const lines = r.run.lines.filter(ev('loop.leader', { operation: loop }));
  return lines.length ? Date.parse(String(lines.at(-1)!.time)) : 0;
}

/** Transfers a replica started and has not finished: downloads in flight there. */
function inFlight(r: Replica): string[] {
  const started = new Set(r.run.lines.filter(ev('download.started')).map((l) => String(l.transferId)));
  for (const l of r.run.lines.filter(ev('download.finished'))) started.delete(String(l.transferId));
  return [...started];
}

/** Every check that holds whatever was killed: each file once and intact, one replica each, one id per notification. */
function checkExactlyOnce(
  fake: FakePutio,
  files: Map<number, { path: string; content: Buffer; fileId: number }>,
  replicas: Replica[],
  downloads: string,
  webhook: FakeWebhook,
  /** Transfers a killed replica was downloading when it died (put.io ids). */
  cutByKill: ReadonlySet<number> = new Set(),
): void {
  // On disk: every file, byte for byte, and nothing else (no .part).
  assert.deepEqual(listFiles(downloads), [...files.values()].map((f) => f.path).sort());
  for (const f of files.values()) assert.ok(readFileSync(join(downloads, f.path)).equals(f.content), `${f.path} intact`);
  // At put.io: each file fetched from its first byte once; a resume after a kill asks for the rest only.
  // A file whose first request a SIGKILL cut before any byte reached its .part (the rate limiter
  // holds the first chunk) has nothing to resume from: it may start once more, from byte 0.
  const fromStart = new Map<number, number>();
  for (const r of fake.requests.filter((q) => q.key === 'GET /download/:id')) {
    const id = Number(r.path.split('/')[2]);
    if (!r.range || /^bytes=0-/.test(r.range)) fromStart.set(id, (fromStart.get(id) ?? 0) + 1);
  }
  for (const [transferId, { fileId }] of files) {
    const n = fromStart.get(fileId) ?? 0;
    const most = cutByKill.has(transferId) ? 2 : 1;
    assert.ok(n >= 1 && n <= most, `file of transfer ${transferId} fetched from its start ${n} times (at most ${most})`);
  }
  // Downloaded (the state change) by exactly one replica, once.
  const finishedBy = new Map<string, string[]>();
  for (const r of replicas) {
    for (const l of r.run.lines.filter(ev('download.finished'))) finishedBy.set(String(l.transferId), [...(finishedBy.get(String(l.transferId)) ?? []), r.name]);
  }
  assert.equal(finishedBy.size, files.size, 'every transfer downloaded');
  for (const [id, by] of finishedBy) assert.equal(by.length, 1, `${id} finished by ${by.join(', ')}`);
  // Notifications: at least once, each under one id (a repeat only with the same id and body).
  const bodies = webhook.received.map((r) => r.json as { id: string; event: string; name: string });
  const idsOf = new Map<string, Set<string>>();
  for (const b of bodies) idsOf.set(`${b.event} ${b.name}`, (idsOf.get(`${b.event} ${b.name}`) ?? new Set()).add(b.id));
  for (const [what, ids] of idsOf) assert.equal(ids.size, 1, `${what} went out under ${ids.size} ids`);
  checkDeliveries(bodies, idsOf.size);
  assert.equal(bodies.filter((b) => b.event === 'download.finished').map((b) => b.id).filter((id, i, all) => all.indexOf(id) === i).length, files.size);
  // Removed from put.io once each (watch-seeding runs on the leader only).
  assert.equal(new Set(fake.cancelled).size, files.size);
}

/** Until every transfer's download.finished and transfer.cleaned notifications arrived (distinct ids). */
function notified(webhook: FakeWebhook, count: number): Promise<unknown> {
  const distinct = (event: string): number =>
    new Set(webhook.received.map((r) => r.json as { id: string; event: string }).filter((b) => b.event === event).map((b) => b.id)).size;
  return waitUntil(() => distinct('download.finished') >= count && distinct('transfer.cleaned') >= count, 120_000, 'every notification');
}

async function torrentCount(r: Replica): Promise<number> {
  const line = r.run.lines.find(ev('transmission.listening'))!;
  const url = `http://${String(line.address)}/transmission/rpc`;
  const body = JSON.stringify({ method: 'torrent-get', arguments: { fields: ['id', 'hashString', 'percentDone'] } });
  let res = await fetch(url, { method: 'POST', body });
  const session = res.headers.get('x-transmission-session-id') ?? '';
  res = await fetch(url, { method: 'POST', body, headers: { 'X-Transmission-Session-Id': session } });
  const json = (await res.json()) as { arguments: { torrents: Array<{ percentDone: number }> } };
  return json.arguments.torrents.filter((t) => t.percentDone === 1).length;
}

function replicaEnv(fake: FakePutio, webhook: FakeWebhook, dbUrl: string, downloads: string): NodeJS.ProcessEnv {
  return {
    DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
    TARGET_LABEL: 'harvester', DOWNLOAD_DIR: downloads, DB_URL: dbUrl, POLLING_INTERVAL: '1s',
    WEBHOOK_URL: webhook.url, MAX_PARALLEL: '2', MAX_DOWNLOAD_RATE: '1M', LOG_LEVEL: 'info',
  };
}

test('three replicas share 100 transfers, each downloaded once by one of them; SIGKILL of the leader and of one mid-download loses and doubles nothing', { skip, timeout: 400_000 }, async () => {
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const fake = await startFakePutio({ label: 'harvester' });
  const webhook = await startFakeWebhook();
  const files = addTransfers(fake, 100);
  const dbUrl = await pg!.createDatabase('replicas');
  const env = replicaEnv(fake, webhook, dbUrl, downloads);
  const replicas = ['r1', 'r2', 'r3'].map((name) => startReplica(name, env, dir));
  try {
    await Promise.all(replicas.map((r) => r.run.waitForLine(ev('supervisor.ready'), 120_000, `${r.name} ready`)));
    // One leader per loop that runs once; the others stand by.
    const leader = await waitUntil(() => leaderOf(replicas, 'produce-transfers'), 60_000, 'a produce-transfers leader');
    assert.equal(replicas.filter((r) => r.run.lines.some(ev('loop.leader', { operation: 'produce-transfers' }))).length, 1, 'one leader');
    for (const r of replicas.filter((x) => x !== leader)) {
      await r.run.waitForLine(ev('loop.standby', { operation: 'produce-transfers' }), 30_000, `${r.name} standing by`);
    }

    // Kill the leader while it downloads.
    await waitUntil(() => inFlight(leader).length > 0 && replicas.some((r) => r.run.lines.some(ev('download.finished'))), 120_000, `${leader.name} mid-download`);
    const cutByKill = new Set<number>();
    const noteCut = (r: Replica): void => { for (const id of inFlight(r)) cutByKill.add(Number(id.split(':').pop())); };
    noteCut(leader);
    const killedAt = Date.now();
    leader.killed = true;
    leader.run.child.kill('SIGKILL');
    await leader.run.exited;
    const next = await waitUntil(() => leaderOf(replicas, 'produce-transfers'), 60_000, 'a new produce-transfers leader');
    const takeover = Date.parse(String(next.run.lines.filter(ev('loop.leader', { operation: 'produce-transfers' })).at(-1)!.time)) - killedAt;
    console.log(`failover: ${next.name} took the produce-transfers lease ${takeover} ms after ${leader.name} was killed`);
    assert.ok(takeover < 15_000, `took over within a lease check or two (${takeover} ms)`);

    // Then one of the others mid-download, not the new leader.
    const other = replicas.find((r) => !r.killed && r !== next)!;
    await waitUntil(() => inFlight(other).length > 0, 120_000, `${other.name} mid-download`);
    noteCut(other);
    other.killed = true;
    other.run.child.kill('SIGKILL');
    await other.run.exited;

    // The survivor finishes everything (the killed ones' claims come back when their leases end).
    await waitUntilAsync(async () => {
      const s = await states(dbUrl);
      return s && s.size === files.size && [...s.values()].every((state) => state === 'cleaned');
    }, 300_000, 'every transfer downloaded, imported and removed', 500);
    await notified(webhook, files.size);
    checkExactlyOnce(fake, files, replicas, downloads, webhook, cutByKill);
    // The Transmission endpoint of the survivor answers from the shared store: every item complete.
    assert.equal(await torrentCount(next), files.size);
  } finally {
    for (const r of replicas) if (!r.killed) r.run.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.run.exited));
    await fake.close();
    await webhook.close();
    removeDir(dir);
  }
});

test('PostgreSQL restarted under two running replicas: they wait, resume, and no transfer is lost or doubled', { skip, timeout: 400_000 }, async () => {
  const dir = tempDir();
  const downloads = join(dir, 'downloads');
  const fake = await startFakePutio({ label: 'harvester' });
  const webhook = await startFakeWebhook();
  const files = addTransfers(fake, 40);
  const dbUrl = await pg!.createDatabase('restart');
  const env = replicaEnv(fake, webhook, dbUrl, downloads);
  const replicas = ['a', 'b'].map((name) => startReplica(name, env, dir));
  try {
    await Promise.all(replicas.map((r) => r.run.waitForLine(ev('supervisor.ready'), 120_000, `${r.name} ready`)));
    await waitUntil(() => replicas.filter((r) => r.run.lines.some(ev('download.finished'))).length >= 1
      && replicas.some((r) => inFlight(r).length > 0), 120_000, 'downloads under way');
    await pg!.stop();
    await waitUntil(() => replicas.every((r) => r.run.lines.some(ev('store.unavailable', { operation: 'download' }))), 60_000, 'both replicas noticing the database is away');
    // An outage of several ticks: a loop that crashed on each would be restarted as often and given up.
    await Promise.all(replicas.map((r) => waitForMoreTicks(opsUrlOf(r.run), 'download', 6, 60_000)));
    await pg!.start();
    await Promise.all(replicas.map((r) => r.run.waitForLine(ev('store.available', { operation: 'download' }), 60_000, `${r.name} resuming`)));
    await waitUntilAsync(async () => {
      const s = await states(dbUrl);
      return s && s.size === files.size && [...s.values()].every((state) => state === 'cleaned');
    }, 300_000, 'every transfer downloaded, imported and removed after the restart', 500);
    await notified(webhook, files.size);
    for (const r of replicas) {
      assert.equal(r.run.child.exitCode, null, `${r.name} is still running`);
      assert.ok(!r.run.lines.some(ev('loop.gave-up')), `${r.name} gave no loop up`);
    }
    checkExactlyOnce(fake, files, replicas, downloads, webhook);
    for (const r of replicas) assert.equal(await torrentCount(r), files.size, `${r.name}'s Transmission endpoint`);
  } finally {
    await pg!.start();
    for (const r of replicas) r.run.child.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.run.exited));
    await fake.close();
    await webhook.close();
    removeDir(dir);
  }
});

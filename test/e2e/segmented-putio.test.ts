// Segmented transfers (DESIGN.md 8) through the daemon against the put.io fake,
// which records every range it serves and caps each connection's rate (as a
// far seedbox or a provider's shaping does): SEGMENTS=auto adds connections,
// the file arrives byte-identical; a server that ignores Range gets one
// stream; a file that changes between ranges starts over instead of mixing
// bytes; a stalled connection is abandoned and its range taken over; and a
// SIGKILL with 8 ranges in flight resumes without fetching any range twice
// beyond what was in flight.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ev, opsUrlOf, removeDir, runCli, tempDir, waitUntil, waitUntilAsync, type CliRun } from '../helpers';
import { queryDb } from '../helpers/db';
import { startFakePutio, type FakePutio, type ServedRange } from '../fakes/putio-server';

const MiB = 1024 * 1024;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function stateOf(dbPath: string, remoteId: number): string | undefined {
  return queryDb(dbPath, (db) => (db.prepare('SELECT state FROM transfers WHERE remote_id = ?').get(String(remoteId)) as { state: string } | undefined)?.state) ?? undefined;
}

const home = (s: string | undefined): boolean => s === 'seeding' || s === 'cleaned' || s === 'imported' || s === 'downloaded';

/** Bytes served more than once for one file: what every answer sent, less the bytes they cover. */
function servedTwice(served: ServedRange[]): number {
  const spans = served.map((s) => ({ start: s.start, end: s.start + s.sent })).filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  let union = 0;
  let at = -1;
  for (const s of spans) {
    if (s.end <= at) continue;
    union += s.end - Math.max(s.start, at);
    at = s.end;
  }
  return spans.reduce((n, s) => n + (s.end - s.start), 0) - union;
}

/** The most answers to one file open at once. */
function mostOpenAtOnce(fake: FakePutio, fileId: number, seen: Map<number, number>): void {
  const open = fake.served.filter((s) => s.fileId === fileId && s.open).length;
  seen.set(fileId, Math.max(seen.get(fileId) ?? 0, open));
}

let dir: string;
let fake: FakePutio;
let run: CliRun;
let dbPath: string;
let downloads: string;

before(async () => {
  dir = tempDir();
  downloads = join(dir, 'downloads');
  dbPath = join(dir, 'harvester.db');
  fake = await startFakePutio({ label: 'harvester' });
  // Each connection at most 2 MiB/s: one stream is slow, several fill the (loopback) line.
  fake.downloadRate = 2 * MiB;
  run = runCli(['run'], {
    cwd: dir,
    env: {
      DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
      TARGET_LABEL: 'harvester', DOWNLOAD_DIR: downloads, DB_PATH: dbPath, POLLING_INTERVAL: '300ms',
      PUTIO_SEED_RATIO: '0', MAX_PARALLEL: '1', LOG_LEVEL: 'info', MIN_SEGMENT_SIZE: '2M',
    },
  });
  await run.waitForLine(ev('supervisor.ready'), 60_000);
});

after(async () => {
  run?.child.kill('SIGKILL');
  await run?.exited;
  await fake?.close();
  if (dir) removeDir(dir);
});

test('SEGMENTS=auto: where each connection is capped it adds connections, and the file arrives byte-identical', async () => {
  const content = randomBytes(40 * MiB + 12345);
  const t = fake.addTransfer({ name: 'Film', files: [{ path: 'Film.2024.mkv', content }] });
  const fileId = t.files[0]!.id;
  const most = new Map<number, number>();
  await waitUntil(() => {
    mostOpenAtOnce(fake, fileId, most);
    return home(stateOf(dbPath, t.id));
  }, 120_000, 'the segmented film home');
  assert.equal(sha(readFileSync(join(downloads, 'Film.2024.mkv'))), sha(content), 'byte-identical (and CRC32-verified: the fake reports one)');
  const served = fake.served.filter((s) => s.fileId === fileId);
  assert.ok((most.get(fileId) ?? 0) >= 4, `auto added connections: ${most.get(fileId)} at once, ${served.length} ranges`);
  assert.ok(served.every((s) => s.status === 206), 'every answer a range');
  assert.ok(servedTwice(served) <= 2 * MiB, `almost nothing fetched twice (${servedTwice(served)} bytes)`);
});

test('a server that answers a range with the whole file (200) gets one stream, and the file is intact', async () => {
  const content = randomBytes(12 * MiB + 7);
  fake.inject({ kind: 'ignore-range', times: 1000, match: 'GET /download/:id' });
  try {
    const t = fake.addTransfer({ name: 'No ranges', files: [{ path: 'noranges.mkv', content }] });
    const fileId = t.files[0]!.id;
    await waitUntil(() => home(stateOf(dbPath, t.id)), 120_000, 'the file without ranges home');
    assert.equal(sha(readFileSync(join(downloads, 'noranges.mkv'))), sha(content));
    assert.ok(run.lines.some(ev('download.segments-refused')), 'the refusal is logged');
    const served = fake.served.filter((s) => s.fileId === fileId);
    const refused = served.findIndex((s) => s.ranged && s.status === 200);
    assert.ok(refused >= 0, 'a range was asked for and answered 200');
    const after = served.slice(refused + 1);
    assert.equal(after.length, 1, `then one stream: ${after.length} answers`);
    assert.equal(after[0]!.sent, content.length);
  } finally {
    fake.clearFaults();
  }
});

test('a file replaced on the seedbox between ranges starts over: the result is the new file, never a mix', async () => {
  const first = randomBytes(32 * MiB);
  const second = randomBytes(32 * MiB);
  // No CRC32 reported: only the version check (ETag, Last-Modified) stands between the two copies.
  const t = fake.addTransfer({ name: 'Replaced', files: [{ path: 'replaced.mkv', content: first, crc32: null }] });
  const fileId = t.files[0]!.id;
  await waitUntil(() => fake.served.some((s) => s.fileId === fileId && s.sent >= MiB), 60_000, 'the first range flowing');
  fake.replaceContent(fileId, second);
  await waitUntil(() => home(stateOf(dbPath, t.id)), 120_000, 'the replaced file home');
  const got = readFileSync(join(downloads, 'replaced.mkv'));
  assert.equal(sha(got), sha(second), 'the new copy, whole');
  assert.ok(run.lines.some(ev('download.source-changed')), 'the change is logged');
  const served = fake.served.filter((s) => s.fileId === fileId);
  const newer = served.filter((s) => s.version === 1);
  assert.ok(newer.some((s) => s.start === 0), 'the new copy was fetched from zero');
});

test('a connection that stalls is abandoned and its range is taken over', async () => {
  const content = randomBytes(24 * MiB + 99);
  // The first answer sends 1 MiB, then nothing, on an open socket.
  fake.inject({ kind: 'stall-body', times: 1, afterBytes: MiB, match: 'GET /download/:id' });
  const t = fake.addTransfer({ name: 'Stall', files: [{ path: 'stall.mkv', content }] });
  const fileId = t.files[0]!.id;
  await waitUntil(() => home(stateOf(dbPath, t.id)), 120_000, 'the file with a stalled connection home');
  assert.equal(sha(readFileSync(join(downloads, 'stall.mkv'))), sha(content));
  const stalled = run.lines.find(ev('download.segment-stalled'));
  assert.ok(stalled, 'the stall is logged');
  const served = fake.served.filter((s) => s.fileId === fileId);
  assert.equal(served[0]!.sent, MiB, 'the first answer stalled after 1 MiB');
  assert.ok(served.slice(1).some((s) => s.start <= Number(stalled.start) && s.end > Number(stalled.start)),
    `another answer covers the stalled range from byte ${String(stalled.start)}`);
});

test('SIGKILL with 8 ranges in flight, restart: the file is intact, nothing restarts from zero, and no range is fetched twice beyond what was in flight', async () => {
  // This test runs its own daemon: SEGMENTS=8 on a fresh database.
  run.child.kill('SIGKILL');
  await run.exited;
  const kdir = tempDir();
  const kdb = join(kdir, 'harvester.db');
  const kdownloads = join(kdir, 'downloads');
  const env = {
    DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: fake.token, PUTIO_API_URL: fake.url, PUTIO_UPLOAD_URL: fake.uploadUrl,
    TARGET_LABEL: 'harvester', DOWNLOAD_DIR: kdownloads, DB_PATH: kdb, POLLING_INTERVAL: '300ms', FIRST_RUN: 'new',
    PUTIO_SEED_RATIO: '0', MAX_PARALLEL: '1', LOG_LEVEL: 'debug', SEGMENTS: '8', MIN_SEGMENT_SIZE: '2M',
  };
  // Slow enough (8 x 512 KiB/s) that a loaded machine sees the 8 ranges in flight, and the status of them, before the kill.
  fake.downloadRate = 512 * 1024;
  let second: CliRun | undefined;
  let first: CliRun | undefined;
  try {
    first = runCli(['run'], { cwd: kdir, env });
    // Transfers of the earlier tests are there already (FIRST_RUN=new leaves them); this one is new.
    await first.waitForLine(ev('supervisor.ready'), 60_000);
    await first.waitForLine(ev('transfers.first-listing'), 60_000);
    const content = randomBytes(48 * MiB);
    const t = fake.addTransfer({ name: 'Killed', files: [{ path: 'killed.mkv', content }] });
    const fileId = t.files[0]!.id;
    const served = (): ServedRange[] => fake.served.filter((s) => s.fileId === fileId);
    await waitUntil(() => {
      const s = served();
      return s.filter((x) => x.open).length === 8 && s.reduce((n, x) => n + x.sent, 0) >= 8 * MiB;
    }, 120_000, '8 ranges in flight and a sixth of the file served');
    // Progress shows the connections: /api/transfers per transfer and per file, harvester status, download.progress.
    const ops = opsUrlOf(first);
    const view = await waitUntilAsync(async () => {
      const body = (await (await fetch(`${ops}/api/transfers`)).json()) as { active: Array<{ name: string; connections?: number; files?: Array<{ path: string; connections: number; rate: number }> }> };
      const a = body.active.find((x) => x.name === 'killed.mkv');
      return a && a.connections === 8 ? a : undefined;
    }, 30_000, '/api/transfers shows 8 connections');
    assert.deepEqual(view.files?.map((f) => [f.path, f.connections]), [['killed.mkv', 8]]);
    assert.ok((view.files?.[0]?.rate ?? 0) > 0, 'and the file\'s rate');
    const status = runCli(['status'], { env: { HTTP_BIND: ops.replace(/^http:\/\//, ''), HTTP_TOKEN: '' } });
    await status.exited;
    assert.match(status.stdout(), /conns/, 'harvester status has a connections column');
    assert.match(status.stdout(), /killed\.mkv[^\n]*│\s+8\s+│\n/, 'with 8 for the file');
    await waitUntil(() => first!.lines.some((l) => l.event === 'download.progress' && l.connections === 8), 30_000, 'download.progress with connections 8');
    first.child.kill('SIGKILL');
    await first.exited;
    await waitUntil(() => served().every((s) => !s.open), 10_000, 'the killed connections closed');
    const before = served().length;
    const sentBefore = served().reduce((n, x) => n + x.sent, 0);
    const recorded = queryDb(kdb, (db) => db.prepare("SELECT count(*) FROM file_ranges WHERE path = 'killed.mkv' AND end_at > start").pluck().get() as number) ?? 0;
    assert.ok(recorded >= 1, `ranges recorded before the kill (${recorded})`);

    second = runCli(['run'], { cwd: kdir, env });
    await waitUntil(() => home(stateOf(kdb, t.id)), 120_000, 'the killed file home after the restart');
    assert.equal(sha(readFileSync(join(kdownloads, 'killed.mkv'))), sha(content), 'intact');
    const resumed = served().slice(before);
    assert.ok(resumed.length >= 1 && resumed.every((s) => s.start > 0 || s.ranged), 'the restart asked for ranges');
    assert.ok(!resumed.some((s) => s.start === 0), 'nothing restarted from zero');
    const twice = servedTwice(served());
    // In flight at the kill: at most a second (the record interval) and the socket buffers of each of the 8 connections.
    assert.ok(twice <= 8 * 2 * MiB, `fetched twice: ${(twice / MiB).toFixed(2)} MiB of ${(sentBefore / MiB).toFixed(1)} MiB served before the kill`);
    assert.ok(second.lines.some(ev('download.resumed')), 'the resume is logged');
  } finally {
    first?.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    await first?.exited;
    await second?.exited;
    removeDir(kdir);
  }
});

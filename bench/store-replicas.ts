// The two stores side by side, in the same run (issue 17): claim throughput
// and torrent-get latency with 500 transfers, on SQLite (a file under /tmp) and
// on PostgreSQL 15 (a server on loopback, started here as the tests start it).
//  - claims: 500 queued transfers taken by `claimers` owners at once (each its
//    own connection: SQLite's handle, PostgreSQL's pool), each claim followed
//    by its transition to downloading, as the download loop does: claims/s.
//  - torrent-get: the endpoint's handler with Sonarr's 21 fields over the same
//    500 transfers: latency p50/p99.
// Usage: npm run build && node dist/bench/store-replicas.js [--transfers 500] [--requests 300] [--claimers 4] [--runs 3]
// Writes bench/STORE-REPLICAS.md.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DownloadClient } from '../src/transfers/clients/types';
import { PostgresStore } from '../src/transfers/store/postgres';
import { SqliteStore } from '../src/transfers/store/sqlite';
import type { Store } from '../src/transfers/store/store';
import { handleRpc, RpcState } from '../src/transfers/transmission/methods';
import { parseRequest } from '../src/transfers/transmission/envelope';
import { startPostgres } from '../test/helpers/postgres';

const SONARR_FIELDS = ['id', 'hashString', 'name', 'downloadDir', 'totalSize', 'leftUntilDone', 'isFinished', 'eta', 'status',
  'secondsDownloading', 'secondsSeeding', 'errorString', 'uploadedEver', 'downloadedEver', 'seedRatioLimit', 'seedRatioMode',
  'seedIdleLimit', 'seedIdleMode', 'fileCount', 'file-count', 'labels'];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function seed(store: Store, transfers: number, finishedFiles: boolean): Promise<void> {
  for (let i = 0; i < transfers; i++) {
    const { transfer } = await store.upsertRemote('putio', {
      remoteId: String(1000 + i), name: `Show.S01E${String(i).padStart(3, '0')}.1080p`, remoteStatus: 'SEEDING',
      progress: 100, finished: true, totalBytes: 1_000_000 + i, hash: (i.toString(16).padStart(8, '0')).repeat(5), ratio: 0.5,
    }, { category: i % 2 ? 'tv-sonarr' : 'radarr' });
    if (finishedFiles) await store.setFiles(transfer.id, [{ id: `f${i}`, path: `Show.S01E${i}/e.mkv`, size: 1_000_000 + i }], `Show.S01E${i}`);
  }
}

/** Every queued transfer claimed and moved to downloading by `claimers` owners at once; claims per second. */
async function claimRun(open: () => Promise<Store>, transfers: number, claimers: number): Promise<{ perSecond: number; claimed: number }> {
  const seeder = await open();
  await seed(seeder, transfers, false);
  const stores = await Promise.all(Array.from({ length: claimers }, () => open()));
  const t0 = performance.now();
  const counts = await Promise.all(stores.map(async (s, k) => {
    let n = 0;
    for (;;) {
      const t = await s.claimNext('queued', `bench-${k}`, 30_000);
      if (!t) return n;
      await s.transition(t.id, `bench-${k}`, 'queued', 'downloading', { release: true });
      n++;
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  for (const s of [seeder, ...stores]) await s.close();
  const claimed = counts.reduce((a, b) => a + b, 0);
  if (claimed !== transfers) throw new Error(`claimed ${claimed} of ${transfers}`);
  return { perSecond: claimed / seconds, claimed };
}

async function torrentGetRun(store: Store, requests: number, dir: string): Promise<{ p50: number; p99: number; listed: number }> {
  // Every seedbox call answers nothing: torrent-get reads the store only.
  const client = new Proxy({}, { get: (_t, prop) => (prop === 'kind' ? 'putio' : prop === 'then' ? undefined : () => Promise.resolve([])) }) as unknown as DownloadClient;
  const ctx = { store, client, log: pino({ level: 'silent' }), sessionId: 'bench', state: new RpcState(), config: { downloadDir: join(dir, 'downloads'), seedRatio: 0 } };
  const body = JSON.stringify({ method: 'torrent-get', arguments: { fields: SONARR_FIELDS } });
  for (let i = 0; i < 20; i++) await handleRpc(ctx, parseRequest(body));
  const times: number[] = [];
  let listed = 0;
  for (let i = 0; i < requests; i++) {
    const t0 = performance.now();
    const res = await handleRpc(ctx, parseRequest(body));
    times.push(performance.now() - t0);
    listed = ((res as { arguments?: { torrents?: unknown[] } }).arguments?.torrents ?? []).length;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), listed };
}

async function main(): Promise<void> {
  const transfers = arg('transfers', 500);
  const requests = arg('requests', 300);
  const claimers = arg('claimers', 4);
  const runs = arg('runs', 3);
  const dir = mkdtempSync(join(tmpdir(), 'harvester-bench-stores-'));
  const pg = await startPostgres();
  let n = 0;
  const stores = {
    sqlite: async () => {
      const file = join(dir, `h-${++n}.db`);
      return () => Promise.resolve(new SqliteStore(file) as Store);
    },
    postgres: async () => {
      const url = await pg.createDatabase('bench');
      return () => PostgresStore.open(url, { poolSize: 2 }) as Promise<Store>;
    },
  };
  const results: Record<string, { claims: number[]; p50: number[]; p99: number[]; listed: number }> = {};
  try {
    for (let r = 0; r < runs; r++) {
      // Interleaved, so that the machine's other load falls on both alike.
      for (const [name, make] of Object.entries(stores)) {
        const res = (results[name] ??= { claims: [], p50: [], p99: [], listed: 0 });
        res.claims.push((await claimRun(await make(), transfers, claimers)).perSecond);
        const open = await make();
        const store = await open();
        await seed(store, transfers, true);
        const tg = await torrentGetRun(store, requests, dir);
        await store.close();
        res.p50.push(tg.p50);
        res.p99.push(tg.p99);
        res.listed = tg.listed;
      }
    }
  } finally {
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (name: string): string => {
    const r = results[name]!;
    const list = (xs: number[], d: number) => xs.map((x) => x.toFixed(d)).join(', ');
    return `| ${name} | **${median(r.claims).toFixed(0)}** (${list(r.claims, 0)}) | **${median(r.p50).toFixed(2)}** (${list(r.p50, 2)}) | ${median(r.p99).toFixed(2)} (${list(r.p99, 2)}) | ${r.listed} |`;
  };
  const report = `# The stores side by side: SQLite and PostgreSQL, ${transfers} transfers

Generated by \`node dist/bench/store-replicas.js\` (bench/store-replicas.ts) on ${new Date().toISOString()},
Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}). SQLite: a WAL file under ${tmpdir()};
PostgreSQL 15 on loopback (started by test/helpers/postgres.ts: fsync off, as a test server). ${runs} runs,
interleaved; medians in bold, every run in brackets.

- **claims/s**: ${transfers} queued transfers claimed by ${claimers} owners at once, each its own connection
  (SQLite: its own handle; PostgreSQL: its own pool of 2), every claim followed by its transition to
  downloading (two transactions), until none is left; no transfer is claimed twice (checked).
- **torrent-get**: the endpoint's handler with Sonarr's 21 fields, ${requests} requests after 20 of warm-up.

| store | claims/s | torrent-get p50 (ms) | torrent-get p99 (ms) | items per answer |
|---|---|---|---|---|
${row('sqlite')}
${row('postgres')}
`;
  writeFileSync(join(__dirname, '../../bench/STORE-REPLICAS.md'), report);
  process.stdout.write(report);
}

void main();

// The listing of a big qBittorrent (issue 21's benchmark): a real
// qbittorrent-nox seeding N tiny torrents (default 2,000; as many as are made
// and added within 5 minutes), all under TARGET_LABEL, and the time and HTTP
// calls of one poll (QbittorrentSource.listTransfers, what produce-transfers
// asks each POLLING_INTERVAL), the first (with its login) and the following.
//
//   npm run build && node dist/bench/listing-qbittorrent.js [N]
//
// transmission-create takes about half a second a torrent here (it waits on
// its own progress timer), so makeSeededTorrent runs in MAKERS worker threads.
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { makeSeededTorrent, type SeededTorrent } from '../test/helpers/torrent-data';
import { startQbittorrent } from '../test/helpers/qbittorrent';
import { QbittorrentSource } from '../src/transfers/sources/qbittorrent';
import { median } from './lib/stats';

const LABEL = 'harvester';
const BUDGET_MS = 5 * 60_000;
const BATCH = 240;
const POLLS = 10;
const MAKERS = 24;

interface MakeJob { saveDir: string; torrentDir: string; names: string[] }

/** makeSeededTorrent for `names`, in MAKERS threads at once; resolves with them in order. */
async function makeMany(saveDir: string, torrentDir: string, names: string[]): Promise<SeededTorrent[]> {
  const per = Math.ceil(names.length / MAKERS);
  const parts = await Promise.all(Array.from({ length: MAKERS }, (_, i) => names.slice(i * per, (i + 1) * per)).filter((n) => n.length > 0).map((chunk) =>
    new Promise<SeededTorrent[]>((resolve, reject) => {
      const w = new Worker(__filename, { workerData: { saveDir, torrentDir, names: chunk } satisfies MakeJob });
      w.once('message', (m: SeededTorrent[]) => resolve(m.map((t) => ({ ...t, torrent: Buffer.from(t.torrent) }))));
      w.once('error', reject);
    })));
  return parts.flat();
}

async function main(): Promise<void> {
  const wanted = Number(process.argv[2] ?? 2000);
  const q = await startQbittorrent();
  try {
    const t0 = performance.now();
    const made: SeededTorrent[] = [];
    let added = 0;
    while (added < wanted && performance.now() - t0 < BUDGET_MS) {
      const names = Array.from({ length: Math.min(BATCH, wanted - added) }, (_, i) => `Bench.${String(added + i).padStart(5, '0')}.mkv`);
      const batch = await makeMany(q.saveDir, join(q.dir, 'torrents'), names);
      const form = new FormData();
      for (const t of batch) form.append('torrents', new Blob([new Uint8Array(t.torrent)]), `${t.name}.torrent`);
      form.append('savepath', q.saveDir);
      form.append('skip_checking', 'true');
      form.append('category', LABEL);
      const said = await q.call('torrents/add', form);
      if (said.trim() !== 'Ok.') throw new Error(`add refused: ${said}`);
      made.push(...batch);
      added += batch.length;
    }
    // qBittorrent adds asynchronously: wait until it lists them all.
    for (;;) {
      const n = (await q.torrents(`category=${LABEL}`)).length;
      if (n >= added) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const setupMs = performance.now() - t0;

    const source = new QbittorrentSource({ url: q.url, username: q.username, password: q.password, label: LABEL });
    const times: number[] = [];
    const calls: number[] = [];
    let firstMs = 0;
    let firstCalls = 0;
    let finished = 0;
    for (let i = 0; i <= POLLS; i++) {
      const before = source.api.requests;
      const s = performance.now();
      const list = await source.listTransfers();
      const ms = performance.now() - s;
      if (list.length !== added) throw new Error(`listed ${list.length} of ${added}`);
      finished = list.filter((t) => t.finished).length;
      if (i === 0) {
        firstMs = ms;
        firstCalls = source.api.requests - before;
      } else {
        times.push(ms);
        calls.push(source.api.requests - before);
      }
    }
    const body = Buffer.byteLength(await q.call(`torrents/info?category=${LABEL}`));
    const out = {
      torrents: added,
      wanted,
      finished,
      setupSeconds: Math.round(setupMs / 100) / 10,
      firstPoll: { ms: Math.round(firstMs), httpCalls: firstCalls },
      poll: { medianMs: Math.round(median(times)), minMs: Math.round(Math.min(...times)), maxMs: Math.round(Math.max(...times)), httpCalls: median(calls), runs: POLLS },
      answerBytes: body,
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await q.close();
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  const job = workerData as MakeJob;
  parentPort!.postMessage(job.names.map((name) => makeSeededTorrent({ saveDir: job.saveDir, torrentDir: job.torrentDir, name, files: [{ path: name, size: 256 }] })));
}

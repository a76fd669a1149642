// Download figures: one set of files (bench/lib/dataset, made once per bench
// run by bench/run.ts) copied into a fresh folder on the same filesystem.
//   harvester --via=local: harvester's real download path, driven directly:
//              the daemon's configuration (loadConfig, default MAX_PARALLEL),
//              createClient (LocalClient), a SqliteStore in a temp dir, the
//              piscina TaskPool with workers/tasks/hash, and a Downloader
//              built as workers/download.ts builds it. The transfer is listed
//              and queued as produce-transfers does (untimed); the time runs
//              from "queued" to the transfer's `downloaded` (fill() + drain()),
//              so no POLLING_INTERVAL or loop tick is in it.
//   harvester --via=putio: the same with the PutioClient against the
//              loopback put.io (bench/peers/putio-server.ts, its own process).
//   harvester --rate=20M: MAX_DOWNLOAD_RATE as the daemon reads it; the
//              downloader's progress() (bytes past the limiter, all files) is
//              sampled every `sampleMs`: the steady aggregate rate, and how
//              far the bytes ever ran ahead of the cap (see rates()).
//   cp:   `cp -r <set> <dest>/`, timed from spawn to exit.
//   curl: one curl process fetching every file's download URL from the same
//         loopback server (--parallel, --parallel-max MAX_PARALLEL), timed from
//         spawn to exit.
//   node-copy, node-http, node-fetch: the floor of Node's own APIs, to tell
//         what harvester adds from what Node costs: every file, MAX_PARALLEL
//         at once, with nothing but the copy (no checks, no store, no
//         checksum, no progress): `fs.promises.copyFile`; `http.get` with a
//         keep-alive agent piped to a file; `fetch` piped to a file. Timed in
//         the process, from the first file to the last, as harvester is.
// Every mode checks the copy (sizes; harvester: state `downloaded`) after the
// clock stops, then removes it.
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { Agent, get, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../../src/log';
import { TaskPool } from '../../src/supervisor/host';
import { loadConfig } from '../../src/transfers/config';
import { createClient } from '../../src/transfers/clients/create';
import { Downloader } from '../../src/transfers/download/downloader';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import { now } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { loadSet, MiB, type DataSet } from '../lib/dataset';
import { PEERS } from '../lib/harness';

const { mode, params } = scenarioArgs();
const manifest = params.manifest ?? '';
const via = params.via ?? 'local';
const rate = params.rate;
const sampleMs = num(params, 'sampleMs', 20);
const settleMs = num(params, 'settleMs', 500);

export interface DownloadResult {
  bytes: number;
  files: number;
  ms: number;
  /** MiB/s over `ms`. */
  mibps: number;
  maxParallel: number;
  /** Rate-cap runs: bytes/s from `settleMs` after the first byte to the last progress sample before the end. */
  flowRate?: number;
  /** Rate-cap runs: the highest rate over any 1 s window of samples (bytes/s). */
  maxWindowRate?: number;
  /** Rate-cap runs: the most bytes ever ahead of the cap's line from the first byte (the burst let through). */
  maxLead?: number;
  sampleMs?: number;
  settleMs?: number;
  /** MAX_DOWNLOAD_RATE as parsed (bytes/s). */
  cap?: number;
  /** Main thread event-loop utilisation during the download (harvester). */
  elu?: number;
  /** CPU time of this process (all its threads) over the download, in % of one core. */
  cpuPercent?: number;
}

interface Peer { base: string; files: Array<{ url: string; path: string }>; proc: ChildProcess }

async function startPutio(manifests: string[]): Promise<Peer> {
  const proc = fork(join(PEERS, 'putio-server.js'), [`--manifest=${manifests.join(',')}`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  const [msg] = (await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(() => { throw new Error('putio-server exited before listening'); }),
  ])) as [{ base: string; files: Array<{ url: string; path: string }> }];
  return { base: msg.base, files: msg.files, proc };
}

async function stopPeer(peer: Peer | undefined): Promise<void> {
  if (!peer || peer.proc.exitCode !== null) return;
  const exited = once(peer.proc, 'exit');
  peer.proc.disconnect();
  await exited;
}

/** Every file of the set is in `dest` at its size. */
function checkCopy(set: DataSet, dest: string): void {
  for (const f of set.files) {
    const size = statSync(join(dest, f.path)).size;
    if (size !== f.size) throw new Error(`${f.path}: ${size} bytes copied, expected ${f.size}`);
  }
}

async function spawnTimed(cmd: string, args: string[]): Promise<number> {
  let stderr = '';
  const t0 = now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { stderr += d; });
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = now() - t0;
  if (code !== 0) throw new Error(`${cmd} exited with ${code}: ${stderr.slice(-2000)}`);
  return ms;
}

function result(set: DataSet, ms: number, maxParallel: number, extra: Partial<DownloadResult> = {}): DownloadResult {
  return { bytes: set.totalBytes, files: set.files.length, ms, mibps: set.totalBytes / MiB / (ms / 1000), maxParallel, ...extra };
}

/**
 * From (time, doneBytes) samples of a capped download:
 * - flowRate: the aggregate rate from `settleMs` after the first byte to the last sample before the
 *   end (the steady rate: the bucket's initial burst is left out);
 * - maxWindowRate: the highest rate over any 1 s window of samples;
 * - maxLead: the most bytes ever ahead of the cap's line, cap x (t - the last sample before the
 *   first byte): what the limiter let through beyond the rate (its burst), to within one sample.
 */
function rates(samples: Array<[number, number]>, total: number, cap: number, settleMs: number): { flowRate: number; maxWindowRate: number; maxLead: number } {
  const startIdx = samples.findIndex(([, b]) => b > 0);
  const flowing = samples.filter(([, b]) => b > 0 && b < total);
  if (startIdx < 1 || flowing.length < 2) throw new Error(`too few progress samples while bytes flowed (${flowing.length}); use a larger set`);
  const tStart = samples[startIdx - 1]![0];
  const steady = flowing.filter(([t]) => t >= flowing[0]![0] + settleMs);
  if (steady.length < 2) throw new Error(`the flow lasted less than ${settleMs} ms; use a larger set`);
  const [t0, b0] = steady[0]!;
  const [t1, b1] = steady[steady.length - 1]!;
  let maxWindowRate = 0;
  for (let i = 0, j = 0; i < flowing.length; i++) {
    while (j < flowing.length && flowing[j]![0] - flowing[i]![0] < 1000) j++;
    if (j === flowing.length) break;
    maxWindowRate = Math.max(maxWindowRate, ((flowing[j]![1] - flowing[i]![1]) * 1000) / (flowing[j]![0] - flowing[i]![0]));
  }
  const maxLead = Math.max(...samples.slice(startIdx).map(([t, b]) => b - (cap * (t - tStart)) / 1000));
  return { flowRate: ((b1 - b0) * 1000) / (t1 - t0), maxWindowRate, maxLead };
}

async function harvester(set: DataSet, work: string): Promise<DownloadResult> {
  let peer: Peer | undefined;
  const pool = new TaskPool();
  let store: SqliteStore | undefined;
  try {
    const env: Record<string, string> = {
      DOWNLOAD_CLIENT: via,
      DOWNLOAD_DIR: join(work, 'downloads'),
      DB_PATH: join(work, 'harvester.db'),
      LOG_LEVEL: 'info',
      ...(rate ? { MAX_DOWNLOAD_RATE: rate } : {}),
    };
    if (via === 'local') {
      env.LOCAL_SEEDBOX_DIR = set.parent;
    } else if (via === 'putio') {
      peer = await startPutio([manifest]);
      env.PUTIO_TOKEN = 'bench-token';
      env.PUTIO_API_URL = peer.base;
    } else {
      throw new Error(`unknown --via=${via}`);
    }
    const config = loadConfig(env);
    mkdirSync(config.downloadDir, { recursive: true });
    store = new SqliteStore(config.dbPath);
    const client = createClient(config);
    const log = createLogger({ level: config.logLevel, pretty: false });
    const stop = new AbortController();
    // As workers/download.ts builds it (the hasher goes to the pool directly here: in the
    // daemon it is one comlink call from the loop worker to the supervisor's pool).
    const downloader = new Downloader({
      store, client, owner: `${process.pid}:download`,
      downloadDir: config.downloadDir,
      maxParallel: config.maxParallel,
      maxAttempts: config.maxAttempts,
      hasher: (input) => pool.runTask('hash', input),
      log,
      signal: stop.signal,
      fileMode: 0o666 & ~config.umask,
      dirMode: 0o777 & ~config.umask,
      maxRate: config.maxDownloadRateBytesPerSec ?? undefined,
      minFreeBytes: config.minFreeSpaceBytes,
    });
    // What produce-transfers does, untimed: list (a local folder needs two equal listings), record, queue.
    let remote = (await client.listTransfers()).find((r) => r.name === set.name);
    if (via === 'local' && remote && !remote.finished) remote = (await client.listTransfers()).find((r) => r.name === set.name);
    if (!remote?.finished) throw new Error(`the ${via} client does not list "${set.name}" as finished`);
    const { transfer, queued } = await store.upsertRemote(client.kind, remote);
    if (!queued) throw new Error('the transfer was not queued');

    const samples: Array<[number, number]> = [];
    const sampler = rate
      ? setInterval(() => samples.push([now(), downloader.progress().reduce((s, p) => s + p.doneBytes, 0)]), sampleMs)
      : undefined;
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const started = await downloader.fill();
    await downloader.drain();
    const ms = now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0).utilization;
    if (sampler) clearInterval(sampler);

    const after = await store.get(transfer.id);
    if (started !== 1 || after?.state !== 'downloaded') {
      throw new Error(`transfer not downloaded: started ${started}, state ${after?.state}, last error ${after?.lastError}`);
    }
    checkCopy(set, config.downloadDir);
    const extra: Partial<DownloadResult> = { elu, cpuPercent: ((cpu.user + cpu.system) / 1000 / ms) * 100 };
    if (rate) {
      const cap = config.maxDownloadRateBytesPerSec!;
      Object.assign(extra, rates(samples, set.totalBytes, cap, settleMs), { cap, sampleMs, settleMs });
    }
    // For a look at the flow: --samples=1 returns every (ms since the start, doneBytes) sample.
    if (rate && params.samples) Object.assign(extra, { samples: samples.map(([t, b]) => [Math.round(t - t0), b]) });
    return result(set, ms, config.maxParallel, extra);
  } finally {
    await stopPeer(peer);
    await pool.close();
    await store?.close();
  }
}

async function cp(set: DataSet, work: string): Promise<DownloadResult> {
  const dest = join(work, 'downloads');
  mkdirSync(dest);
  const ms = await spawnTimed('cp', ['-r', join(set.parent, set.name), `${dest}/`]);
  checkCopy(set, dest);
  return result(set, ms, 1);
}

async function curl(set: DataSet, work: string): Promise<DownloadResult> {
  const maxParallel = loadConfig({}).maxParallel;
  const dest = join(work, 'downloads');
  mkdirSync(dest);
  const peer = await startPutio([manifest]);
  try {
    const config = join(work, 'curl.conf');
    writeFileSync(config, peer.files.map((f) => `url = "${f.url}"\noutput = "${join(dest, f.path)}"\n`).join(''));
    const ms = await spawnTimed('curl', ['--silent', '--show-error', '--fail', '--create-dirs', '--parallel', '--parallel-max', String(maxParallel), '--config', config]);
    checkCopy(set, dest);
    return result(set, ms, maxParallel);
  } finally {
    await stopPeer(peer);
  }
}

/** `copy(i)` for every file index, `parallel` at a time, timed from the first to the last. */
async function timedFloor(count: number, parallel: number, copy: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let i = next++; i < count; i = next++) await copy(i);
  }));
  return now() - t0;
}

async function nodeCopy(set: DataSet, work: string): Promise<DownloadResult> {
  const maxParallel = loadConfig({}).maxParallel;
  const dest = join(work, 'downloads');
  const ms = await timedFloor(set.files.length, maxParallel, async (i) => {
    const to = join(dest, set.files[i]!.path);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(join(set.parent, set.files[i]!.path), to);
  });
  checkCopy(set, dest);
  return result(set, ms, maxParallel);
}

async function nodeHttp(set: DataSet, work: string, api: 'http' | 'fetch'): Promise<DownloadResult> {
  const maxParallel = loadConfig({}).maxParallel;
  const dest = join(work, 'downloads');
  const peer = await startPutio([manifest]);
  const agent = new Agent({ keepAlive: true, maxSockets: maxParallel });
  try {
    const ms = await timedFloor(peer.files.length, maxParallel, async (i) => {
      const f = peer.files[i]!;
      const to = join(dest, f.path);
      await mkdir(dirname(to), { recursive: true });
      const body = api === 'http'
        ? await new Promise<IncomingMessage>((ok, fail) => { get(f.url, { agent }, ok).on('error', fail); })
        : Readable.fromWeb((await fetch(f.url)).body as ReadableStream<Uint8Array>);
      await pipeline(body, createWriteStream(to));
    });
    checkCopy(set, dest);
    return result(set, ms, maxParallel);
  } finally {
    agent.destroy();
    await stopPeer(peer);
  }
}

runScenario(async () => {
  const set = loadSet(manifest);
  const work = mkdtempSync(join(tmpdir(), 'harvester-bench-dl-'));
  try {
    if (mode === 'harvester') return await harvester(set, work);
    if (mode === 'cp') return await cp(set, work);
    if (mode === 'curl') return await curl(set, work);
    if (mode === 'node-copy') return await nodeCopy(set, work);
    if (mode === 'node-http') return await nodeHttp(set, work, 'http');
    if (mode === 'node-fetch') return await nodeHttp(set, work, 'fetch');
    throw new Error(`unknown mode ${mode}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

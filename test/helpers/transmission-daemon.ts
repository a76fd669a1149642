// A real transmission-daemon (Debian's 3.00) on loopback for the Transmission
// Transfer Source's tests, started once per test file with the command line
// of reference/seedboxes.md (`-f -g CONFDIR -p PORT -r 127.0.0.1 -a 127.0.0.1
// -t -u USER -v PASS -w DIR`), plus a free peer port and no DHT, LPD or port
// mapping so that daemons of tests side by side never meet. Torrents are
// seeded from data already on disk (torrent-data.ts): added with their save
// folder as download-dir, then waited on until the daemon has checked them.
// It can be restarted on the same port (a new session id: the 409 dance again).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from './child';
import { freePort, removeDir, tempDir, waitUntilAsync } from './index';
import type { SeededTorrent } from './torrent-data';

export const TRANSMISSION_DAEMON = 'transmission-daemon';

/** Is transmission-daemon installed here? (apt-get install transmission-daemon) */
export function transmissionAvailable(): boolean {
  return spawnSync('sh', ['-c', `command -v ${TRANSMISSION_DAEMON}`]).status === 0;
}

/** node:test's `skip`: a reason when transmission-daemon is missing, except under CI (.ci/run installs it), where the test must fail. */
export function transmissionSkip(): string | false {
  if (transmissionAvailable() || process.env.CI) return false;
  return 'transmission-daemon is not installed (apt-get install transmission-daemon transmission-cli)';
}

export interface DaemonTorrent {
  id: number;
  hashString: string;
  name: string;
  downloadDir: string;
  percentDone: number;
  status: number;
  labels: string[];
  uploadRatio: number;
}

export class TransmissionDaemon {
  readonly dir: string;
  /** The daemon's download-dir (`-w`): torrents are seeded in folders under it. */
  readonly downloadDir: string;
  readonly username = 'seedbox';
  readonly password = 'tr-pa55word-long';
  port = 0;
  private peerPort = 0;
  private child: ChildProcess | undefined;
  private sessionId: string | undefined;

  constructor() {
    this.dir = tempDir('harvester-transmission-');
    this.downloadDir = join(this.dir, 'downloads');
    mkdirSync(this.downloadDir, { recursive: true });
  }

  /** CLIENT_URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/transmission/rpc`;
  }

  /** The env a daemon run needs for this Transmission (FILES_FROM and TARGET_LABEL are the test's). */
  env(label: string): Record<string, string> {
    return { DOWNLOAD_CLIENT: 'transmission', CLIENT_URL: this.url, CLIENT_USERNAME: this.username, CLIENT_PASSWORD: this.password, TARGET_LABEL: label };
  }

  async start(): Promise<void> {
    if (!this.port) [this.port, this.peerPort] = [await freePort(), await freePort()];
    const args = [
      '-f', '-g', join(this.dir, 'config'), '-p', String(this.port), '-r', '127.0.0.1', '-a', '127.0.0.1',
      '-t', '-u', this.username, '-v', this.password, '-w', this.downloadDir,
      '-P', String(this.peerPort), '-O', '-Y', '-M', '-e', join(this.dir, 'daemon.log'),
    ];
    const child = spawn(TRANSMISSION_DAEMON, args, { stdio: 'ignore' });
    this.child = child;
    this.sessionId = undefined;
    await waitUntilAsync(async () => {
      if (child.exitCode !== null) throw new Error(`transmission-daemon exited with ${child.exitCode}: ${this.logs()}`);
      return (await this.rpc('session-get', { fields: ['version'] })).version;
    }, 20_000, `transmission-daemon answering on ${this.port}`);
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 10_000);
  }

  /** Stop and start on the same port: the daemon hands out a new session id. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    removeDir(this.dir);
  }

  logs(): string {
    try {
      return readFileSync(join(this.dir, 'daemon.log'), 'utf8').slice(-2000);
    } catch {
      return '(no log)';
    }
  }

  /** One RPC call as a client does it (the 409 dance included); throws unless `result` is success. */
  async rpc(method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const body = JSON.stringify({ method, arguments: args });
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        Authorization: `Basic ${Buffer.from(`${this.username}:${this.password}`).toString('base64')}`,
      };
      if (this.sessionId) headers['X-Transmission-Session-Id'] = this.sessionId;
      const res = await fetch(this.url, { method: 'POST', headers, body });
      if (res.status === 409) {
        this.sessionId = res.headers.get('x-transmission-session-id') ?? undefined;
        await res.arrayBuffer();
        continue;
      }
      const answer = (await res.json()) as { result: string; arguments?: Record<string, unknown> };
      if (answer.result !== 'success') throw new Error(`transmission ${method}: ${answer.result}`);
      return answer.arguments ?? {};
    }
    throw new Error(`transmission ${method}: 409 twice`);
  }

  /** Add a seeded torrent with its save folder as download-dir, and wait until the daemon has checked it and seeds it. */
  async seed(t: SeededTorrent, opts: { labels?: string[] } = {}): Promise<DaemonTorrent> {
    await this.rpc('torrent-add', { metainfo: t.torrent.toString('base64'), 'download-dir': t.saveDir });
    if (opts.labels) await this.rpc('torrent-set', { ids: [t.hash], labels: opts.labels });
    return waitUntilAsync(async () => {
      const got = await this.torrent(t.hash);
      // 5/6: queued to seed / seeding, after the check found every piece.
      return got && got.percentDone === 1 && (got.status === 5 || got.status === 6) ? got : undefined;
    }, 30_000, `transmission-daemon seeding ${t.name}`);
  }

  async torrents(): Promise<DaemonTorrent[]> {
    const fields = ['id', 'hashString', 'name', 'downloadDir', 'percentDone', 'status', 'labels', 'uploadRatio'];
    return (await this.rpc('torrent-get', { fields })).torrents as DaemonTorrent[];
  }

  async torrent(hash: string): Promise<DaemonTorrent | undefined> {
    return (await this.torrents()).find((t) => t.hashString === hash);
  }
}

/** A started daemon (once per test file: call in `before`, close in `after`). */
export async function startTransmission(): Promise<TransmissionDaemon> {
  const d = new TransmissionDaemon();
  try {
    await d.start();
  } catch (err) {
    await d.close();
    throw err;
  }
  return d;
}

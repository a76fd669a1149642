// A real qBittorrent for tests: Debian's qbittorrent-nox 4.5.2 with its own
// profile folder (legal notice accepted in its qBittorrent.conf), the WebUI on
// a free loopback port, user admin / adminadmin (4.5's default), no DHT, LSD,
// PeX or UPnP. Started once per test file; `restart()` stops it and starts it
// again on the same port and profile (every WebUI session is lost, as when a
// seedbox's qBittorrent restarts). reference/seedboxes.md says how it runs here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from './child';
import { freePort, removeDir, tempDir, waitUntilAsync } from './index';
import type { SeededTorrent } from './torrent-data';

export function qbittorrentAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v qbittorrent-nox'], { stdio: 'ignore' }).status === 0;
}

/** node:test's `skip` for a test that needs qbittorrent-nox: a reason when it is missing, except under CI (.ci/run installs it). */
export function qbittorrentSkip(): string | false {
  if (qbittorrentAvailable() || process.env.CI) return false;
  return 'qbittorrent-nox is not installed (apt-get install qbittorrent-nox)';
}

export interface QbitTorrentInfo {
  hash: string;
  name: string;
  state: string;
  progress: number;
  category: string;
  save_path: string;
  size: number;
}

export class QbittorrentHarness {
  readonly dir: string;
  /** The folder the test torrents' data is saved in (also qBittorrent's default save path). */
  readonly saveDir: string;
  readonly username = 'admin';
  readonly password = 'adminadmin';
  port = 0;
  private child: ChildProcess | undefined;
  private output = '';
  private cookie = '';

  constructor() {
    this.dir = tempDir('harvester-qbt-');
    this.saveDir = join(this.dir, 'seedbox');
    mkdirSync(this.saveDir, { recursive: true });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) {
      this.port = await freePort();
      const btPort = await freePort();
      const config = join(this.dir, 'profile', 'qBittorrent', 'config');
      mkdirSync(config, { recursive: true });
      writeFileSync(
        join(config, 'qBittorrent.conf'),
        [
          '[LegalNotice]',
          'Accepted=true',
          '',
          '[BitTorrent]',
          `Session\\Port=${btPort}`,
          'Session\\DHTEnabled=false',
          'Session\\LSDEnabled=false',
          'Session\\PeXEnabled=false',
          `Session\\DefaultSavePath=${this.saveDir}`,
          '',
          '[Preferences]',
          'Connection\\UPnP=false',
          'WebUI\\Address=127.0.0.1',
          // The wrong-password tests must not get loopback banned for an hour.
          'WebUI\\MaxAuthenticationFailCount=1000',
          'General\\Locale=en',
          '',
        ].join('\n'),
      );
    }
    this.child = spawn('qbittorrent-nox', [`--profile=${join(this.dir, 'profile')}`, `--webui-port=${this.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => { this.output = (this.output + d.toString()).slice(-4000); });
    this.child.stderr!.on('data', (d: Buffer) => { this.output = (this.output + d.toString()).slice(-4000); });
    const child = this.child;
    await waitUntilAsync(async () => {
      if (child.exitCode !== null) throw new Error(`qbittorrent-nox exited (${child.exitCode}): ${this.output}`);
      const res = await fetch(`${this.url}/api/v2/app/version`);
      await res.arrayBuffer();
      return res.status === 403 || res.status === 200;
    }, 30_000, `qbittorrent-nox's WebUI on ${this.port}`);
    this.cookie = '';
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 10_000);
  }

  /** Stop and start again on the same port and profile: every WebUI session is gone. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    removeDir(this.dir);
  }

  /** A WebUI call as the test (its own session). */
  async call(path: string, form?: URLSearchParams | FormData): Promise<string> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.cookie) await this.login();
      const res = await fetch(`${this.url}/api/v2/${path}`, {
        method: form ? 'POST' : 'GET',
        headers: { Referer: `${this.url}/`, Cookie: this.cookie },
        ...(form ? { body: form } : {}),
      });
      const text = await res.text();
      if (res.status === 403 && attempt === 0) {
        this.cookie = '';
        continue;
      }
      if (res.status !== 200) throw new Error(`qBittorrent ${path}: HTTP ${res.status} ${text}`);
      return text;
    }
    throw new Error('unreachable');
  }

  private async login(): Promise<void> {
    const res = await fetch(`${this.url}/api/v2/auth/login`, {
      method: 'POST',
      headers: { Referer: `${this.url}/` },
      body: new URLSearchParams({ username: this.username, password: this.password }),
    });
    const text = await res.text();
    if (text.trim() !== 'Ok.') throw new Error(`qBittorrent test login: HTTP ${res.status} ${text}`);
    this.cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  }

  async torrents(query = ''): Promise<QbitTorrentInfo[]> {
    return JSON.parse(await this.call(`torrents/info${query ? `?${query}` : ''}`)) as QbitTorrentInfo[];
  }

  async torrent(hash: string): Promise<QbitTorrentInfo | undefined> {
    return (await this.torrents(`hashes=${hash}`))[0];
  }

  /**
   * Add data already on disk (its .torrent, its save folder), under `category`, with the check
   * skipped (the data is whole: makeSeededTorrent wrote it); waits until qBittorrent has it finished.
   */
  async addSeeded(t: SeededTorrent, category: string | null, opts: { check?: boolean } = {}): Promise<QbitTorrentInfo> {
    const form = new FormData();
    form.append('torrents', new Blob([new Uint8Array(t.torrent)]), 'x.torrent');
    form.append('savepath', t.saveDir);
    if (!opts.check) form.append('skip_checking', 'true');
    if (category) form.append('category', category);
    const said = await this.call('torrents/add', form);
    if (said.trim() !== 'Ok.') throw new Error(`qBittorrent refused ${t.name}: ${said}`);
    return this.waitFinished(t.hash);
  }

  /** Until the torrent is seeding its whole data. */
  waitFinished(hash: string, timeoutMs = 60_000): Promise<QbitTorrentInfo> {
    return waitUntilAsync(async () => {
      const t = await this.torrent(hash);
      return t && t.progress === 1 && /UP$|^uploading$/.test(t.state) && !t.state.startsWith('checking') ? t : undefined;
    }, timeoutMs, `torrent ${hash} finished in qBittorrent`, 100);
  }
}

export async function startQbittorrent(): Promise<QbittorrentHarness> {
  const q = new QbittorrentHarness();
  try {
    await q.start();
  } catch (err) {
    await q.close();
    throw err;
  }
  return q;
}

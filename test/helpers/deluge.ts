// A real Deluge for tests: deluged and deluge-web (Debian's 2.0.3) on free
// loopback ports with a temporary config, torrents whose data is already in the
// save path (Deluge checks them and seeds at 100% without any peer), the Label
// plugin, and the faults the tests need: deluge-web restarted with its
// sessions lost, deluged stopped and started again.
//
// Debian's Deluge prints harmless Python logging tracebacks: its output goes
// to files in the temporary folder (`logs()` reads them for a failure message).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { stopChild } from './child';
import { freePort, tempDir, waitUntilAsync } from './index';

export { waitUntilAsync };

export { freePort };

/** Polls an async `check` until it returns true or the timeout ends. */

/** Is a real Deluge installed here? (apt-get install deluged deluge-web) */
export function delugeAvailable(): boolean {
  return ['deluged', 'deluge-web'].every((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0);
}

/**
 * node:test's `skip` for tests that need a real Deluge: a reason when it is not
 * installed, except under CI (.ci/run installs it), where such a test must fail.
 */
export function delugeSkip(): string | false {
  if (delugeAvailable() || process.env.CI) return false;
  return 'deluged/deluge-web are not installed (apt-get install deluged deluge-web)';
}


// --- .torrent files ----------------------------------------------------------

type Bencodable = number | string | Buffer | Bencodable[] | { [key: string]: Bencodable };

/** A small bencode writer (BEP 3): enough to make .torrent files. */
export function bencode(value: Bencodable): Buffer {
  if (typeof value === 'number') return Buffer.from(`i${Math.trunc(value)}e`);
  if (typeof value === 'string' || Buffer.isBuffer(value)) {
    const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([Buffer.from('l'), ...value.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(value[k]!)]), Buffer.from('e')]);
}

export interface TorrentFile {
  /** Relative to the save path: `Show.S01/e01.mkv` (a folder torrent) or `Movie.mkv` (a single file). */
  path: string;
  content: Buffer;
}

/** The metainfo of `files` (all under one root folder, or one bare file) and its info-hash. */
export function makeTorrent(files: TorrentFile[], pieceLength = 64 * 1024): { torrent: Buffer; hash: string; name: string } {
  const single = files.length === 1 && !files[0]!.path.includes('/');
  const name = single ? files[0]!.path : files[0]!.path.split('/')[0]!;
  const all = Buffer.concat(files.map((f) => f.content));
  const pieces: Buffer[] = [];
  for (let i = 0; i < all.length; i += pieceLength) pieces.push(createHash('sha1').update(all.subarray(i, i + pieceLength)).digest());
  const info: Record<string, Bencodable> = { name, 'piece length': pieceLength, pieces: Buffer.concat(pieces) };
  if (single) info.length = files[0]!.content.length;
  else {
    info.files = files.map((f) => {
      const parts = f.path.split('/');
      if (parts[0] !== name) throw new Error(`makeTorrent: ${f.path} is not under ${name}/`);
      return { length: f.content.length, path: parts.slice(1) };
    });
  }
  const encodedInfo = bencode(info);
  const hash = createHash('sha1').update(encodedInfo).digest('hex');
  const torrent = Buffer.concat([Buffer.from('d4:info'), encodedInfo, Buffer.from('e')]);
  return { torrent, hash, name };
}

// --- the Deluge processes ----------------------------------------------------

export interface DelugeOptions {
  /** deluge-web's password. */
  webPassword?: string;
  /** More daemons in the web UI's host list, before the real one (e.g. a dead port). */
  extraHosts?: Array<{ id: string; host: string; port: number }>;
}

interface RpcAnswer {
  result: unknown;
  error: { message: string; code: number } | null;
}

export class DelugeHarness {
  readonly dir: string;
  /** The torrents' save path (what DELUGE_MOUNT_DIR or DELUGE_COMPLETED_DIR serve). */
  readonly saveDir: string;
  readonly webPassword: string;
  readonly hostId = 'c0ffee0000000000000000000000000000000001';
  webPort = 0;
  daemonPort = 0;
  private btPort = 0;
  private daemon: ChildProcess | undefined;
  private web: ChildProcess | undefined;
  private cookie = '';
  private readonly extraHosts: Array<{ id: string; host: string; port: number }>;

  constructor(opts: DelugeOptions = {}) {
    this.dir = tempDir('harvester-deluge-');
    this.saveDir = join(this.dir, 'seedbox');
    mkdirSync(this.saveDir, { recursive: true });
    this.webPassword = opts.webPassword ?? 'web-pa55word';
    this.extraHosts = opts.extraHosts ?? [];
  }

  get url(): string {
    return `http://127.0.0.1:${this.webPort}`;
  }

  async start(): Promise<void> {
    [this.webPort, this.daemonPort, this.btPort] = [await freePort(), await freePort(), await freePort()];
    const daemonDir = join(this.dir, 'daemon');
    const webDir = join(this.dir, 'web');
    mkdirSync(daemonDir, { recursive: true });
    mkdirSync(webDir, { recursive: true });
    writeFileSync(join(daemonDir, 'auth'), 'harvester:daemon-pa55:10\n');
    writeConfig(join(daemonDir, 'core.conf'), 1, {
      dht: false, upnp: false, natpmp: false, lsd: false, utpex: false, new_release_check: false,
      listen_interface: '127.0.0.1', random_port: false, listen_ports: [this.btPort, this.btPort],
      download_location: this.saveDir, enabled_plugins: [],
    });
    const salt = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    writeConfig(join(webDir, 'web.conf'), 2, {
      pwd_salt: salt,
      pwd_sha1: createHash('sha1').update(salt).update(this.webPassword).digest('hex'),
      // Starts disconnected from its daemon, as a fresh deluge-web does.
      default_daemon: '', first_login: false, interface: '127.0.0.1', port: this.webPort, https: false, sessions: {},
    });
    writeConfig(join(webDir, 'hostlist.conf'), 3, {
      hosts: [
        ...this.extraHosts.map((h) => [h.id, h.host, h.port, 'harvester', 'daemon-pa55']),
        [this.hostId, '127.0.0.1', this.daemonPort, 'harvester', 'daemon-pa55'],
      ],
    });
    this.startDaemon();
    this.startWeb();
    await Promise.all([this.waitForDaemon(), this.waitForWeb()]);
  }

  startDaemon(): void {
    this.daemon = this.launch('deluged', ['-d', '-c', join(this.dir, 'daemon'), '-u', '127.0.0.1', '-p', String(this.daemonPort), '-i', '127.0.0.1', '-L', 'warning'], 'deluged.log');
  }

  startWeb(): void {
    this.web = this.launch('deluge-web', ['-d', '-c', join(this.dir, 'web'), '-i', '127.0.0.1', '-p', String(this.webPort), '-L', 'warning'], 'deluge-web.log');
  }

  async waitForDaemon(timeoutMs = 30_000): Promise<void> {
    await waitUntilAsync(() => canConnect(this.daemonPort), timeoutMs, `deluged on port ${this.daemonPort}\n${this.logs()}`);
  }

  async waitForWeb(timeoutMs = 30_000): Promise<void> {
    await waitUntilAsync(() => canConnect(this.webPort), timeoutMs, `deluge-web on port ${this.webPort}\n${this.logs()}`);
  }

  /** Stop deluge-web; with loseSessions its saved sessions are wiped (a session that expired meanwhile). */
  async stopWeb(opts: { loseSessions?: boolean } = {}): Promise<void> {
    await stop(this.web);
    this.web = undefined;
    if (opts.loseSessions) {
      const file = join(this.dir, 'web', 'web.conf');
      const [header, body] = readConfig(file);
      writeFileSync(file, `${JSON.stringify(header)}${JSON.stringify({ ...body, sessions: {} })}`);
    }
    this.cookie = '';
  }

  async restartWeb(opts: { loseSessions?: boolean } = {}): Promise<void> {
    await this.stopWeb(opts);
    this.startWeb();
    await this.waitForWeb();
  }

  async stopDaemon(): Promise<void> {
    await stop(this.daemon);
    this.daemon = undefined;
  }

  async restartDaemon(): Promise<void> {
    await this.stopDaemon();
    this.startDaemon();
    await this.waitForDaemon();
  }

  async close(): Promise<void> {
    await Promise.all([stop(this.web), stop(this.daemon)]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** deluge-web's and deluged's own logs (for failure messages). */
  logs(): string {
    return ['deluged.log', 'deluge-web.log']
      .map((f) => join(this.dir, f))
      .filter(existsSync)
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').slice(-3000)}`)
      .join('\n');
  }

  // --- JSON-RPC, as the test's own user of the web UI ------------------------

  /** Call a method as the test (logged in, the web UI connected to its daemon); throws on an RPC error. */
  async call(method: string, params: unknown[] = []): Promise<unknown> {
    if (!this.cookie) await this.login();
    if (!/^(web|auth)\./.test(method)) await this.connectWeb();
    const answer = await this.post(method, params);
    if (answer.error) throw new Error(`Deluge ${method}: ${answer.error.message.split('\n')[0]}`);
    return answer.result;
  }

  /** Disconnect the web UI from its daemon (so harvester has to connect it). */
  async disconnectWeb(): Promise<void> {
    if (!this.cookie) await this.login();
    await this.post('web.disconnect', []);
  }

  async webConnected(): Promise<boolean> {
    if (!this.cookie) await this.login();
    return (await this.post('web.connected', [])).result === true;
  }

  async enableLabelPlugin(): Promise<void> {
    await this.call('core.enable_plugin', ['Label']);
    await waitUntilAsync(async () => (await this.call('core.get_enabled_plugins')) instanceof Array
      && ((await this.call('core.get_enabled_plugins')) as string[]).includes('Label'), 10_000, 'the Label plugin on');
    // Its methods reach deluge-web's method list a moment later.
    await waitUntilAsync(async () => !(await this.post('label.get_labels', [])).error, 10_000, 'label.* methods');
  }

  async disableLabelPlugin(): Promise<void> {
    await this.call('core.disable_plugin', ['Label']);
    await waitUntilAsync(async () => !((await this.call('core.get_enabled_plugins')) as string[]).includes('Label'), 10_000, 'the Label plugin off');
  }

  /**
   * Write `files` into the save path, add their torrent (Deluge checks the data
   * and seeds it at 100%), and label it. Returns the info-hash.
   */
  async addTorrent(files: TorrentFile[], label?: string): Promise<string> {
    for (const f of files) {
      mkdirSync(dirname(join(this.saveDir, f.path)), { recursive: true });
      writeFileSync(join(this.saveDir, f.path), f.content);
    }
    const { torrent, hash, name } = makeTorrent(files);
    await this.call('core.add_torrent_file', [`${name}.torrent`, torrent.toString('base64'), { download_location: this.saveDir }]);
    await waitUntilAsync(async () => {
      const s = (await this.call('core.get_torrent_status', [hash, ['progress', 'state']])) as { progress?: number; state?: string };
      return s.progress === 100 && s.state === 'Seeding';
    }, 20_000, `torrent ${name} seeding at 100%`);
    if (label) await this.setLabel(hash, label);
    return hash;
  }

  async setLabel(hash: string, label: string): Promise<void> {
    const labels = (await this.call('label.get_labels')) as string[];
    if (!labels.includes(label)) await this.call('label.add', [label]);
    await this.call('label.set_torrent', [hash, label]);
  }

  /** Every torrent in Deluge: hash -> name, label, ratio. */
  async torrents(): Promise<Record<string, { name: string; label?: string; ratio: number }>> {
    return (await this.call('core.get_torrents_status', [{}, ['name', 'label', 'ratio']])) as Record<string, { name: string; label?: string; ratio: number }>;
  }

  private async connectWeb(): Promise<void> {
    // A deluge-web that has just started (or restarted) may accept the connection and answer only
    // seconds later: ask again with a short timeout each time rather than wait once on a long one
    // (a loaded CI run saw one request hang past 20 s).
    const state = await waitUntilAsync(
      async () => ((await this.post('web.connected', [], 5_000)).result === true ? 'connected' : 'not connected'),
      60_000, `deluge-web to answer web.connected\n${this.logs()}`, 250);
    if (state !== 'connected') {
      await this.post('web.connect', [this.hostId]);
      await waitUntilAsync(async () => (await this.post('web.connected', [])).result === true, 15_000, 'deluge-web connected to deluged');
    }
    // Connected is not yet usable: the daemon's methods are fetched, and its login finished, a moment
    // later. harvester may have just connected the shared web UI itself, and a core call in between
    // answered "unknown method" or "NotAuthorizedError: Auth level too low: 0 < 5" (a CI failure).
    await waitUntilAsync(async () => !(await this.post('core.get_enabled_plugins', [])).error, 10_000, 'core.* methods answered');
  }

  private async login(): Promise<void> {
    const res = await fetch(`${this.url}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 1, method: 'auth.login', params: [this.webPassword] }),
    });
    const answer = (await res.json()) as RpcAnswer;
    if (answer.result !== true) throw new Error('test harness: deluge-web refused its password');
    this.cookie = /_session_id=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
  }

  private async post(method: string, params: unknown[], timeoutMs = 20_000): Promise<RpcAnswer> {
    const res = await fetch(`${this.url}/json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: this.cookie },
      body: JSON.stringify({ id: 1, method, params }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return (await res.json()) as RpcAnswer;
  }

  private launch(cmd: string, args: string[], logName: string): ChildProcess {
    const fd = openSync(join(this.dir, logName), 'a');
    try {
      const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
      live.add(child);
      child.once('exit', () => live.delete(child));
      return child;
    } finally {
      closeSync(fd);
    }
  }
}

/** Start a Deluge for one test. */
export async function startDeluge(opts: DelugeOptions = {}): Promise<DelugeHarness> {
  const harness = new DelugeHarness(opts);
  try {
    await harness.start();
  } catch (err) {
    await harness.close();
    throw err;
  }
  return harness;
}

// A test that dies must not leave Deluge running.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

const stop = (child: ChildProcess | undefined): Promise<void> => stopChild(child, 3000);

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Deluge's config files: a version header object, then the config object. */
function writeConfig(file: string, version: number, body: unknown): void {
  writeFileSync(file, `${JSON.stringify({ file: version, format: 1 })}${JSON.stringify(body)}`);
}

function readConfig(file: string): [unknown, Record<string, unknown>] {
  const text = readFileSync(file, 'utf8');
  // Two JSON objects back to back: split where the first one closes.
  let depth = 0;
  let end = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) {
      end = i + 1;
      break;
    }
  }
  return [JSON.parse(text.slice(0, end)), JSON.parse(text.slice(end)) as Record<string, unknown>];
}

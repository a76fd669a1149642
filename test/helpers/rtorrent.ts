// A real rTorrent (Debian's 0.9.8) behind a real nginx for tests, the way
// seedbox providers run it (reference/seedboxes.md): rtorrent as a daemon with
// its SCGI port on loopback, nginx serving `location /RPC2 { auth_basic ...;
// scgi_pass ...; }` with an htpasswd line made by `openssl passwd -apr1`.
// Both on free loopback ports with their own temporary folders, started once
// per test file. Torrents are seeded from data already complete on disk
// (`load.start_verbose FILE d.directory.set=DIR d.custom1.set=LABEL`).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from './child';
import { freePort, removeDir, tempDir, waitUntilAsync } from './index';
import type { SeededTorrent } from './torrent-data';
import { RtorrentRpc } from '../../src/transfers/sources/rtorrent-xmlrpc';

/** Are rtorrent and nginx installed? (`command -v`: `rtorrent --version` would start its curses UI.) */
export function rtorrentAvailable(): boolean {
  return ['rtorrent', 'nginx'].every((cmd) => spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { stdio: 'ignore' }).status === 0);
}

/** node:test's `skip`: a reason when they are missing, except under CI (.ci/run installs them), where the test must fail. */
export function rtorrentSkip(): string | false {
  if (rtorrentAvailable() || process.env.CI) return false;
  return 'rtorrent/nginx are not installed (apt-get install rtorrent nginx-light)';
}

export interface RtorrentHarness {
  /** `http://127.0.0.1:PORT/RPC2` (nginx, Basic auth). */
  httpUrl: string;
  /** `scgi://127.0.0.1:PORT` (rtorrent itself). */
  scgiUrl: string;
  username: string;
  password: string;
  /** rTorrent's directory.default: the box's download folder, where seeded data lives. */
  saveDir: string;
  /** Where .torrent files are written (not served). */
  torrentDir: string;
  /** An XML-RPC client straight to the SCGI port, for the tests' own checks. */
  rpc: RtorrentRpc;
  /** Seed data already complete on disk under `label`, into `dir` (default saveDir); resolves once rTorrent has checked it (complete). */
  seed(t: SeededTorrent, label?: string, dir?: string): Promise<void>;
  /** The password nginx accepts from now on (nginx reads its htpasswd file at each request): a box whose password was changed. */
  setPassword(password: string): void;
  /** The info-hashes (lower case) rTorrent holds. */
  hashes(): Promise<string[]>;
  logs(): string;
  close(): Promise<void>;
}

export async function startRtorrent(): Promise<RtorrentHarness> {
  const dir = tempDir('harvester-rtorrent-');
  const saveDir = join(dir, 'downloads');
  const torrentDir = join(dir, 'torrents');
  const session = join(dir, 'session');
  for (const d of [saveDir, torrentDir, session, join(dir, 'nginx', 'logs')]) mkdirSync(d, { recursive: true });
  const scgiPort = await freePort();
  const peerPort = await freePort();
  const httpPort = await freePort();
  const rc = join(dir, 'rtorrent.rc');
  writeFileSync(
    rc,
    [
      // 0-0 aborts ("invalid range"): a real one, a free port.
      `network.port_range.set = ${peerPort}-${peerPort}`,
      'network.port_random.set = no',
      'system.daemon.set = true',
      `network.scgi.open_port = 127.0.0.1:${scgiPort}`,
      `session.path.set = ${session}`,
      `directory.default.set = ${saveDir}`,
      'dht.mode.set = disable',
      'protocol.pex.set = no',
      'trackers.use_udp.set = no',
      '',
    ].join('\n'),
  );
  let rtLog = '';
  const rtorrent: ChildProcess = spawn('rtorrent', ['-n', '-o', `import=${rc}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  rtorrent.stdout!.on('data', (d: Buffer) => { rtLog += d; });
  rtorrent.stderr!.on('data', (d: Buffer) => { rtLog += d; });

  const username = 'seedbox-user';
  const password = 'n0t-the-default-Pa55';
  const prefix = join(dir, 'nginx');
  const htpasswd = join(prefix, 'htpasswd');
  const hashLine = execFileSync('openssl', ['passwd', '-apr1', password], { encoding: 'utf8' }).trim();
  writeFileSync(htpasswd, `${username}:${hashLine}\n`);
  const conf = join(prefix, 'nginx.conf');
  const temp = (name: string): string => `${name}_temp_path ${join(prefix, `${name}_temp`)};`;
  writeFileSync(
    conf,
    [
      // As root, nginx's workers would be `nobody`, who cannot read the temporary folder.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      'worker_processes 1;',
      `pid ${join(prefix, 'nginx.pid')};`,
      `error_log ${join(prefix, 'logs', 'error.log')} warn;`,
      'events { worker_connections 128; }',
      'http {',
      '  access_log off;',
      `  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}`,
      '  server {',
      `    listen 127.0.0.1:${httpPort};`,
      '    client_max_body_size 20m;',
      '    location /RPC2 {',
      '      auth_basic "rTorrent";',
      `      auth_basic_user_file ${htpasswd};`,
      '      include /etc/nginx/scgi_params;',
      `      scgi_pass 127.0.0.1:${scgiPort};`,
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  let ngLog = '';
  // /usr/sbin may be missing from a user's PATH.
  const nginx: ChildProcess = spawn(existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx', ['-c', conf, '-p', prefix, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  nginx.stdout!.on('data', (d: Buffer) => { ngLog += d; });
  nginx.stderr!.on('data', (d: Buffer) => { ngLog += d; });

  const rpc = new RtorrentRpc({ url: `scgi://127.0.0.1:${scgiPort}`, timeoutMs: 10_000 });
  const logs = (): string => {
    let err = '';
    try {
      err = readFileSync(join(prefix, 'logs', 'error.log'), 'utf8');
    } catch {
      /* none yet */
    }
    return `rtorrent: ${rtLog.slice(-1500)}\nnginx: ${ngLog.slice(-1500)}${err.slice(-1500)}`;
  };
  const close = async (): Promise<void> => {
    await Promise.all([stop(rtorrent), stop(nginx)]);
    removeDir(dir);
  };
  try {
    await waitUntilAsync(async () => (await rpc.call('system.client_version', [])) !== undefined, 20_000, `rtorrent on ${scgiPort}`);
    const probe = { method: 'POST', body: '<?xml version="1.0"?><methodCall><methodName>system.client_version</methodName><params/></methodCall>' };
    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    await waitUntilAsync(async () => (await fetch(`http://127.0.0.1:${httpPort}/RPC2`, { ...probe, headers: { Authorization: basic } })).status === 200, 20_000, `nginx on ${httpPort}`);
  } catch (err) {
    const why = `${(err as Error).message}\n${logs()}`;
    await close();
    throw new Error(why);
  }

  const hashes = async (): Promise<string[]> => ((await rpc.call('d.multicall2', ['', 'main', 'd.hash='])) as string[][]).map((r) => r[0]!.toLowerCase());
  return {
    httpUrl: `http://127.0.0.1:${httpPort}/RPC2`,
    scgiUrl: `scgi://127.0.0.1:${scgiPort}`,
    username,
    password,
    saveDir,
    torrentDir,
    rpc,
    setPassword(next) {
      writeFileSync(htpasswd, `${username}:${execFileSync('openssl', ['passwd', '-apr1', next], { encoding: 'utf8' }).trim()}\n`);
    },
    async seed(t, label, into) {
      const commands = [`d.directory.set="${into ?? t.saveDir}"`, ...(label !== undefined ? [`d.custom1.set="${label}"`] : [])];
      await rpc.call('load.start_verbose', ['', t.torrentFile, ...commands]);
      await waitUntilAsync(async () => {
        const v = await rpc.call('d.complete', [t.hash.toUpperCase()]).catch(() => 0);
        return Number(v) === 1;
      }, 30_000, `rTorrent to check ${t.name}`);
    },
    hashes,
    logs,
    close,
  };
}

const stop = (child: ChildProcess): Promise<void> => stopChild(child, 5_000);

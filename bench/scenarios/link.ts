// The link-model figures (issue 16) and SFTP one stream on loopback (issue 21):
// one side downloads one data set (bench/lib/dataset) from the bench's own
// server, through the link model (bench/lib/link-model.ts, its own process)
// when `--rtt` is given, else straight over loopback.
//   --via=http: bench/peers/putio-server.ts (the put.io API for harvester, and
//               /files/<path> as a seedbox's web server for the peers);
//   --via=sftp: a real OpenSSH sshd (test/helpers/sshd.ts); `--ciphers=X`
//               restricts the ciphers it offers (that is how harvester's ssh2
//               is made to use one: the server's list decides).
// Modes (each in a fresh child, as every figure of bench/run.ts):
//   harvester: the real daemon, `node dist/src/cli.js run` with its defaults
//              (DOWNLOAD_CLIENT=putio, or the folder source over sftp://),
//              timed from its `download.started` line to `download.finished`
//              (every file verified and renamed into place), the times the
//              daemon stamped on them. `--killAt=0.5`: SIGKILL once half the
//              bytes crossed the link, start it again, and count every byte
//              that crossed the link until it finished (resume).
//   curl, aria2c, lftp, rclone (http or sftp), sftp (OpenSSH): timed from
//              spawn to exit, CPU from the kernel's account of the process
//              and its children (a `sh` that waited for it: cutime + cstime).
// Every side's copy is checked (every file at its size) after the clock, then
// removed.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli, waitUntilAsync, type CliRun } from '../../test/helpers';
import { startSshd, type Sshd } from '../../test/helpers/sshd';
import { now } from '../lib/clock';
import { num, runScenario, scenarioArgs } from '../lib/child-main';
import { loadSet, MiB, type DataSet } from '../lib/dataset';
import { PEERS } from '../lib/harness';
import { startLink, type LinkProcess, type LinkProfile, type LinkStats } from '../lib/link-model';

const { mode, params } = scenarioArgs();
const manifest = params.manifest ?? '';
const via = params.via ?? 'http';
const profile: LinkProfile | undefined = params.rtt === undefined
  ? undefined
  : { rttMs: num(params, 'rtt', 0), connRate: num(params, 'conn', 0), lineRate: num(params, 'line', 0) };
const killAt = num(params, 'killAt', 0);
/** Files at once for the peers that take a list: harvester's MAX_PARALLEL default. */
const parallel = num(params, 'parallel', 5);
/** OpenSSH client: `-c` (its default is chacha20-poly1305). */
const sshCipher = params.sshCipher;
/** lftp over sftp: `pget -n 8` (0: one stream, `get`). */
const segments = num(params, 'segments', 8);
/** harvester: MAX_CONNECTIONS for a report side (its default, 16, otherwise). */
const maxConnections = params.maxConnections;
/** harvester: SEGMENTS for a side that measures one stream (its default, auto, otherwise). */
const harvesterSegments = params.harvesterSegments;

export interface LinkResult {
  bytes: number;
  files: number;
  /** The timed window (ms). */
  ms: number;
  mibps: number;
  /** CPU seconds of the side over the timed window (every thread; for a program, it and its children). */
  cpuSec: number;
  /** What crossed the link over the whole run (API calls, handshakes, a restart included). */
  down?: number;
  up?: number;
  connections?: number;
  maxOpen?: number;
  /** The proxy's CPU over the timed window, % of one core. */
  proxyCpuPercent?: number;
  /** Ciphers sshd negotiated (client->server), from its DEBUG1 log. */
  ciphers?: string[];
  /** The command line run (the daemon's environment for harvester). */
  command: string;
  /** Resume runs: bytes that had crossed when the daemon was killed, the second run's time, its resume offset. */
  killedAt?: number;
  secondMs?: number;
  resumedOffsets?: number[];
}

interface Endpoint {
  port: number;
  link?: LinkProcess;
  /** bench/peers/putio-server.ts (http). */
  server?: ChildProcess;
  sshd?: Sshd;
  /** A known_hosts naming the endpoint's port (sftp). */
  knownHosts?: string;
  stop(): Promise<void>;
}

async function startPutio(): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(join(PEERS, 'putio-server.js'), [`--manifest=${manifest}`], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  const [msg] = (await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(() => { throw new Error('putio-server exited before listening'); }),
  ])) as [{ port: number }];
  return { proc, port: msg.port };
}

async function endpoint(work: string): Promise<Endpoint> {
  let server: ChildProcess | undefined;
  let sshd: Sshd | undefined;
  let target: number;
  if (via === 'http') {
    const s = await startPutio();
    server = s.proc;
    target = s.port;
  } else if (via === 'sftp') {
    // DEBUG1 names the negotiated cipher ("kex: client->server cipher: ..."); Ciphers restricts the offer.
    sshd = await startSshd({ config: [...(params.ciphers ? [`Ciphers ${params.ciphers}`] : []), 'LogLevel DEBUG1'] });
    target = sshd.port;
  } else {
    throw new Error(`unknown --via=${via}`);
  }
  const link = profile ? await startLink(PEERS, { host: '127.0.0.1', port: target }, profile) : undefined;
  const port = link?.port ?? target;
  let knownHosts: string | undefined;
  if (sshd) {
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${port} ${sshd.hostPublicKey}\n`);
  }
  return {
    port, link, server, sshd, knownHosts,
    stop: async () => {
      await link?.stop();
      if (server && server.exitCode === null) {
        const exited = once(server, 'exit');
        server.disconnect();
        await exited;
      }
      await sshd?.close();
    },
  };
}

/** Every file of the set is in `dest` at its size. */
function checkCopy(set: DataSet, dest: string): void {
  for (const f of set.files) {
    const size = statSync(join(dest, f.path)).size;
    if (size !== f.size) throw new Error(`${f.path}: ${size} bytes copied, expected ${f.size}`);
  }
}

const CLK_TCK = 100;

/** utime + stime (and, with `children`, cutime + cstime) of a process, seconds, from /proc/PID/stat. */
function cpuOf(stat: string, children = false): number {
  // Fields after the command's closing parenthesis start at field 3 (state); utime is field 14.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  const ticks = f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0);
  return ticks / CLK_TCK;
}

const procCpu = (pid: number): number => cpuOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));

const proxyCpu = (a: LinkStats, b: LinkStats): number => ((b.cpuUser + b.cpuSystem - a.cpuUser - a.cpuSystem) / 1000 / (b.at - a.at)) * 100;

function ciphersOf(sshd: Sshd | undefined): string[] | undefined {
  if (!sshd) return undefined;
  return [...new Set([...sshd.log().matchAll(/kex: client->server cipher: (\S+)/g)].map((m) => m[1]!))];
}

/** A program, its CPU taken from a `sh` that waited for it (cutime + cstime of the shell). */
async function program(cmd: string, args: string[], work: string): Promise<{ ms: number; cpuSec: number }> {
  const statFile = join(work, 'sh.stat');
  let stderr = '';
  const t0 = now();
  const child = spawn('sh', ['-c', '"$@"; s=$?; cat /proc/$$/stat > "$BENCH_STAT"; exit $s', 'sh', cmd, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, BENCH_STAT: statFile, SSH_AUTH_SOCK: '' },
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  const [code] = (await once(child, 'exit')) as [number | null];
  const ms = now() - t0;
  if (code !== 0) throw new Error(`${cmd} exited with ${code}: ${stderr}`);
  return { ms, cpuSec: cpuOf(readFileSync(statFile, 'utf8'), true) };
}

const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
const commandLine = (cmd: string, args: string[]): string => [cmd, ...args].map(quote).join(' ');

function result(set: DataSet, ms: number, cpuSec: number, command: string, extra: Partial<LinkResult> = {}): LinkResult {
  return { bytes: set.totalBytes, files: set.files.length, ms, mibps: set.totalBytes / MiB / (ms / 1000), cpuSec, command, ...extra };
}

function linkFields(a: LinkStats | undefined, b: LinkStats | undefined): Partial<LinkResult> {
  if (!a || !b) return {};
  return { down: b.down - a.down, up: b.up - a.up, connections: b.connections - a.connections, maxOpen: b.maxOpen };
}

const lineTime = (l: Record<string, unknown>): number => Date.parse(String(l.time));

// ------------------------------------------------------------------ harvester

function daemonEnv(set: DataSet, ep: Endpoint, work: string): Record<string, string> {
  const env: Record<string, string> = {
    DOWNLOAD_DIR: join(work, 'downloads'),
    DB_PATH: join(work, 'harvester.db'),
    // BENCH_LINK_LOG=FILE: the daemon's lines at debug (download.connections: the policy's steps) written there, to see a ramp.
    LOG_LEVEL: process.env.BENCH_LINK_LOG ? 'debug' : 'info',
  };
  if (via === 'http') {
    Object.assign(env, { DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: 'bench-token', PUTIO_API_URL: `http://127.0.0.1:${ep.port}` });
  } else {
    // The folder source over SFTP; the folder holds nothing but the set. Two equal polls make an entry finished:
    // a short interval only shortens the wait before the timed window.
    Object.assign(env, {
      LOCAL_SEEDBOX_DIR: `sftp://root@127.0.0.1:${ep.port}${set.parent}`,
      SFTP_PRIVATE_KEY: ep.sshd!.clientKey, SFTP_HOST_KEY: ep.sshd!.hostFingerprint, SSH_AUTH_SOCK: '', POLLING_INTERVAL: '1s',
    });
  }
  if (maxConnections) env.MAX_CONNECTIONS = maxConnections;
  if (harvesterSegments) env.SEGMENTS = harvesterSegments;
  // BENCH_DAEMON_ENV='{"SEGMENTS":"16"}': settings for a probe run; the figures run the defaults.
  if (process.env.BENCH_DAEMON_ENV) Object.assign(env, JSON.parse(process.env.BENCH_DAEMON_ENV) as Record<string, string>);
  return env;
}

const envText = (env: Record<string, string>): string => Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(' ');

async function stopDaemon(run: CliRun): Promise<void> {
  if (run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill('SIGTERM');
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
  await run.exited;
  clearTimeout(timer);
}

const finishedLine = (l: Record<string, unknown>): boolean => l.event === 'download.finished';
const failedLine = (l: Record<string, unknown>): boolean => l.event === 'download.failed' || l.event === 'startup.failed';

async function waitFinished(run: CliRun, timeoutMs: number): Promise<Record<string, unknown>> {
  const line = await run.waitForLine((l) => finishedLine(l) || failedLine(l), timeoutMs, 'download.finished');
  if (!finishedLine(line)) throw new Error(`the daemon logged ${String(line.event)}: ${JSON.stringify(line).slice(0, 1000)}`);
  return line;
}

async function harvester(set: DataSet, ep: Endpoint, work: string): Promise<LinkResult> {
  const env = daemonEnv(set, ep, work);
  mkdirSync(env.DOWNLOAD_DIR!, { recursive: true });
  const command = `${envText(env)} node dist/src/cli.js run`;
  const s0 = await ep.link?.stats();
  const timeoutMs = 15 * 60_000;
  const first = runCli(['run'], { cwd: work, env });
  try {
    const started = await first.waitForLine((l) => l.event === 'download.started' || failedLine(l), 120_000, 'download.started');
    if (started.event !== 'download.started') throw new Error(`the daemon logged ${String(started.event)} before downloading`);
    const cpuStart = procCpu(first.child.pid!);
    const sStart = await ep.link?.stats();
    if (killAt > 0) return await resume(set, ep, work, env, first, command, s0!, started);
    const finished = await waitFinished(first, timeoutMs);
    const cpuEnd = procCpu(first.child.pid!);
    const sEnd = await ep.link?.stats();
    const ms = lineTime(finished) - lineTime(started);
    checkCopy(set, env.DOWNLOAD_DIR!);
    return result(set, ms, cpuEnd - cpuStart, command, {
      ...linkFields(s0, sEnd),
      ...(sStart && sEnd ? { proxyCpuPercent: proxyCpu(sStart, sEnd) } : {}),
      ciphers: ciphersOf(ep.sshd),
    });
  } finally {
    await stopDaemon(first);
    if (process.env.BENCH_LINK_LOG) writeFileSync(process.env.BENCH_LINK_LOG, first.stdout());
  }
}

/** SIGKILL once `killAt` of the bytes crossed the link, start again, count every byte until the file is in place. */
async function resume(set: DataSet, ep: Endpoint, work: string, env: Record<string, string>, first: CliRun, command: string,
  s0: LinkStats, started: Record<string, unknown>): Promise<LinkResult> {
  if (!ep.link) throw new Error('--killAt needs the link model (--rtt): it counts the bytes');
  const link = ep.link;
  await waitUntilAsync(async () => (await link.stats()).down - s0.down >= killAt * set.totalBytes || first.lines.some(finishedLine),
    10 * 60_000, `${killAt} of the bytes across the link`, 20);
  if (first.lines.some(finishedLine)) throw new Error('the download finished before the kill');
  first.child.kill('SIGKILL');
  await first.exited;
  const killedAt = (await link.stats()).down - s0.down;
  const second = runCli(['run'], { cwd: work, env });
  try {
    const t0 = now();
    const finished = await waitFinished(second, 10 * 60_000);
    const secondMs = now() - t0;
    const sEnd = await link.stats();
    checkCopy(set, env.DOWNLOAD_DIR!);
    const resumedOffsets = second.lines.filter((l) => l.event === 'download.resumed').map((l) => Number(l.offset));
    return result(set, lineTime(finished) - lineTime(started), Number.NaN, command, { ...linkFields(s0, sEnd), killedAt, secondMs, resumedOffsets });
  } finally {
    await stopDaemon(second);
  }
}

// ---------------------------------------------------------------------- peers

const url = (ep: Endpoint, path: string): string => `http://127.0.0.1:${ep.port}/files/${path.split('/').map(encodeURIComponent).join('/')}`;

function sshOptions(ep: Endpoint): string[] {
  return ['-i', ep.sshd!.clientKey, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${ep.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes'];
}

/** The command line of a peer, and where its copy lands (the set's paths under it). */
function peerCommand(set: DataSet, ep: Endpoint, work: string, dest: string): { cmd: string; args: string[] } {
  const single = set.files.length === 1;
  const rcloneConf = join(work, 'rclone.conf');
  writeFileSync(rcloneConf, '');
  const rcloneCommon = ['--config', rcloneConf, '-q', '--multi-thread-streams', '8', '--multi-thread-cutoff', '8M', '--transfers', String(parallel)];
  if (via === 'http') {
    switch (mode) {
      case 'curl': {
        const config = join(work, 'curl.conf');
        writeFileSync(config, set.files.map((f) => `url = "${url(ep, f.path)}"\noutput = "${join(dest, f.path)}"\n`).join(''));
        return { cmd: 'curl', args: ['--silent', '--show-error', '--fail', '--create-dirs', '--parallel', '--parallel-max', String(parallel), '--config', config] };
      }
      case 'aria2c': {
        const input = join(work, 'aria2.txt');
        writeFileSync(input, set.files.map((f) => `${url(ep, f.path)}\n out=${f.path}\n`).join(''));
        return {
          cmd: 'aria2c',
          args: ['-x8', '-s8', '-k1M', `-j${parallel}`, '--file-allocation=falloc', '--allow-overwrite=true', '--auto-file-renaming=false',
            '--console-log-level=warn', '--summary-interval=0', '--download-result=hide', '-q', '-d', dest, '-i', input],
        };
      }
      case 'lftp': {
        const f = set.files[0]!;
        if (single) mkdirSync(dirname(join(dest, f.path)), { recursive: true });
        const script = single
          ? `pget -n 8 ${url(ep, f.path)} -o ${join(dest, f.path)}`
          : `mirror --parallel=${parallel} --use-pget-n=8 ${url(ep, set.name)}/ ${join(dest, set.name)}`;
        return { cmd: 'lftp', args: ['-c', script] };
      }
      case 'rclone':
        return { cmd: 'rclone', args: ['copy', '--http-url', `${url(ep, set.name)}/`, ':http:', join(dest, set.name), ...rcloneCommon] };
    }
  } else {
    const remote = `${set.parent}/${set.name}`;
    switch (mode) {
      case 'sftp': {
        const batch = join(work, 'sftp.batch');
        writeFileSync(batch, `get -r ${remote} ${dest}/\n`);
        return { cmd: 'sftp', args: ['-q', '-b', batch, ...sshOptions(ep), ...(sshCipher ? ['-c', sshCipher] : []), '-P', String(ep.port), 'root@127.0.0.1'] };
      }
      case 'lftp': {
        // reference/seedboxes.md: the connect-program names the key, known_hosts and port; `open -u user,` no password.
        const ssh = ['ssh', '-a', '-x', ...sshOptions(ep), '-p', String(ep.port)].join(' ');
        const gets = set.files.map((f) => {
          mkdirSync(dirname(join(dest, f.path)), { recursive: true });
          return segments > 1 ? `pget -n ${segments} ${set.parent}/${f.path} -o ${join(dest, f.path)}` : `get ${set.parent}/${f.path} -o ${join(dest, f.path)}`;
        });
        return { cmd: 'lftp', args: ['-c', `set sftp:connect-program "${ssh}"; open -u root, sftp://127.0.0.1:${ep.port}; ${gets.join('; ')}`] };
      }
      case 'rclone':
        return {
          cmd: 'rclone',
          args: ['copy', `:sftp:${remote}`, join(dest, set.name), '--sftp-host', '127.0.0.1', '--sftp-port', String(ep.port), '--sftp-user', 'root',
            '--sftp-key-file', ep.sshd!.clientKey, '--sftp-known-hosts-file', ep.knownHosts!, '--sftp-disable-hashcheck', ...rcloneCommon],
        };
    }
  }
  throw new Error(`unknown mode ${mode} for --via=${via}`);
}

async function peer(set: DataSet, ep: Endpoint, work: string): Promise<LinkResult> {
  const dest = join(work, 'downloads');
  mkdirSync(dest, { recursive: true });
  const { cmd, args } = peerCommand(set, ep, work, dest);
  const s0 = await ep.link?.stats();
  const { ms, cpuSec } = await program(cmd, args, work);
  const s1 = await ep.link?.stats();
  checkCopy(set, dest);
  return result(set, ms, cpuSec, commandLine(cmd, args), {
    ...linkFields(s0, s1),
    ...(s0 && s1 ? { proxyCpuPercent: proxyCpu(s0, s1) } : {}),
    ciphers: ciphersOf(ep.sshd),
  });
}

runScenario(async () => {
  const set = loadSet(manifest);
  const work = mkdtempSync(join(tmpdir(), 'harvester-bench-link-'));
  let ep: Endpoint | undefined;
  try {
    ep = await endpoint(work);
    return mode === 'harvester' ? await harvester(set, ep, work) : await peer(set, ep, work);
  } finally {
    await ep?.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

// A real vsftpd on loopback for the FTPS tests, started once per test file:
// explicit TLS forced for logins and data (ssl_enable, force_local_*_ssl) with a
// self-signed certificate made here by openssl (the usual seedbox one), a
// local user with a password (PAM: pam_service_name names no file in
// /etc/pam.d, so PAM's `other` service, pam_unix, checks it; Debian's own
// `vsftpd` service would refuse a shell-less user through pam_shells),
// seccomp_sandbox=NO (its seccomp filter kills sessions in a container). No
// pasv port range: on loopback any port the kernel gives is reachable, and a
// fixed range could collide with other tests running at the same time. It can
// be stopped and started again on the same port (a dropped seedbox), and its
// session processes paused with SIGSTOP (a stalled one).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childPids, greets, killServer, signalPids, withDescendants } from './child';
import { freePort, removeDir, tempDir } from './index';

export const VSFTPD = '/usr/sbin/vsftpd';
/** The login the tests use: a user made for them (no shell, no home of its own). */
export const FTP_USER = 'harvester-ftp';

/** node:test's `skip`: a reason when vsftpd (or root, to run it and make its user) is missing; never under CI=1. */
export function ftpsSkip(): string | false {
  if (process.env.CI) return false;
  if (!existsSync(VSFTPD)) return 'vsftpd is not installed (apt-get install vsftpd)';
  if (process.getuid?.() !== 0) return 'vsftpd tests run as root (they start vsftpd and make its test user)';
  return false;
}

export interface Vsftpd {
  port: number;
  dir: string;
  /** The served tree (readable and writable by the FTP user): tests put the seedbox folder under here. */
  root: string;
  user: string;
  password: string;
  /** The certificate's SHA-256 fingerprint, `AA:BB:..` as openssl prints it. */
  fingerprint: string;
  /** The env a daemon needs for it, with the seedbox folder at `path`. */
  env(path: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Give the FTP user what the tests wrote as root under `path` (so that it may delete it). */
  share(path: string): void;
  /** Kill the listener and every session (the box went away). */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** SIGSTOP (or SIGCONT) every session process: connections stay open and answer nothing. */
  pauseSessions(): void;
  resumeSessions(): void;
  /** How many session processes the server has. */
  sessionCount(): number;
  close(): Promise<void>;
}

/**
 * The test user's password. One fixed value, not one per server: test files run two at a
 * time, each with its own vsftpd, and a second `chpasswd` with another password would lock
 * the first file's server out. The user has no shell, and vsftpd listens on loopback only.
 */
const FTP_PASSWORD = 'harvester-ftp-test-Pw7';
/** Its home: not its own (the tests give it its served tree), one every machine has. */
const FTP_HOME = '/';

/** The test user, made once per machine (two test files may try at once). */
function ensureUser(password: string): void {
  const exists = (): boolean => spawnSync('id', ['-u', FTP_USER], { stdio: 'ignore' }).status === 0;
  if (!exists()) {
    const made = spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', FTP_HOME, '--shell', '/usr/sbin/nologin', FTP_USER], { encoding: 'utf8' });
    if (made.status !== 0 && !exists()) throw new Error(`useradd ${FTP_USER} failed: ${made.stderr}`);
  }
  // vsftpd changes into the user's home at login and refuses the login where it cannot ("500 OOPS:
  // cannot change directory", in plain text on the TLS session): a home that exists, also for a
  // user an older helper made with /nonexistent.
  if (execFileSync('getent', ['passwd', FTP_USER], { encoding: 'utf8' }).split(':')[5] !== FTP_HOME) {
    execFileSync('usermod', ['--home', FTP_HOME, FTP_USER]);
  }
  execFileSync('chpasswd', { input: `${FTP_USER}:${password}\n` });
}

export async function startVsftpd(): Promise<Vsftpd> {
  const password = FTP_PASSWORD;
  ensureUser(password);
  const dir = tempDir('harvester-vsftpd-');
  // mkdtemp makes 0700: the FTP user must be able to walk into the served tree.
  chmodSync(dir, 0o755);
  const root = join(dir, 'root');
  mkdirSync(root);
  execFileSync('chown', [FTP_USER, root]);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=seedbox.test'], { stdio: 'ignore' });
  const fingerprint = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', cert], { encoding: 'utf8' }).trim().split('=')[1]!;
  const port = await freePort();
  const config = join(dir, 'vsftpd.conf');
  writeFileSync(
    config,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'local_umask=022',
      'pam_service_name=harvester-test-ftp',
      'seccomp_sandbox=NO',
      'ssl_enable=YES',
      `rsa_cert_file=${cert}`,
      `rsa_private_key_file=${key}`,
      'force_local_logins_ssl=YES',
      'force_local_data_ssl=YES',
      // vsftpd 3.0.3's default (DES-CBC3-SHA) is refused by OpenSSL 3.
      'ssl_ciphers=HIGH',
      'max_clients=200',
      'max_per_ip=200',
      // A failed login is answered at once (the default waits 1 s).
      'delay_failed_login=0',
      'xferlog_enable=NO',
      `vsftpd_log_file=${join(dir, 'vsftpd.log')}`,
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let stderr = '';
  const running = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const start = async (): Promise<void> => {
    if (running()) return;
    child = spawn(VSFTPD, [config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => { stderr += d; });
    child.stderr!.on('data', (d: Buffer) => { stderr += d; });
    const deadline = Date.now() + 15_000;
    while (!(await greets(port, '220'))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`vsftpd did not listen on ${port}; output: ${stderr.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  // vsftpd forks a process per connection, and that one a process of its own.
  const sessions = (): number[] => (child?.pid ? withDescendants(childPids(child.pid)) : []);
  const signalSessions = (sig: NodeJS.Signals): void => signalPids(sessions(), sig);
  const stop = async (): Promise<void> => {
    if (running()) await killServer(child!, sessions());
  };
  await start();
  const share = (path: string): void => {
    execFileSync('chown', ['-R', FTP_USER, path]);
  };
  return {
    port,
    dir,
    root,
    user: FTP_USER,
    password,
    fingerprint,
    env: (path, extra = {}) => ({
      LOCAL_SEEDBOX_DIR: `ftps://${FTP_USER}@127.0.0.1:${port}${path}`,
      FTP_PASSWORD: password,
      FTP_CERT_FINGERPRINT: fingerprint,
      ...extra,
    }),
    share,
    stop,
    start,
    pauseSessions: () => signalSessions('SIGSTOP'),
    resumeSessions: () => signalSessions('SIGCONT'),
    sessionCount: () => sessions().length,
    close: async () => {
      await stop();
      removeDir(dir);
    },
  };
}

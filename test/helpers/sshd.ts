// A real OpenSSH sshd on loopback for the SFTP tests (reference/seedboxes.md
// "OpenSSH sshd 9.2"): its own host key, authorized_keys and pid file, the
// internal-sftp subsystem, started once per test file. It can be stopped and
// started again on the same port (a dropped seedbox), and its session
// processes paused with SIGSTOP (a stalled one).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childPids, greets, killServer, signalPids, withDescendants } from './child';
import { freePort, removeDir, tempDir } from './index';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  dir: string;
  /** The served tree: tests put the seedbox folder under here. */
  root: string;
  /** An unencrypted client key authorized for root. */
  clientKey: string;
  /** The same key, encrypted with `passphrase`. */
  encryptedKey: string;
  passphrase: string;
  /** `SHA256:...` of the host key, as `ssh-keygen -l -E sha256` prints it. */
  hostFingerprint: string;
  /** The host key's public line (`ssh-ed25519 AAAA...`). */
  hostPublicKey: string;
  /** The RSA host key's public line, when started with `rsaHostKey`. */
  rsaHostPublicKey?: string;
  /** A known_hosts file naming this server (`[127.0.0.1]:PORT ...`). */
  knownHosts: string;
  /** The env a daemon needs for it, with the seedbox folder at `path`. */
  env(path: string, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Kill the listener and every session (the box went away). */
  stop(): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** SIGSTOP (or SIGCONT) every session process: connections stay open and answer nothing. */
  pauseSessions(): void;
  resumeSessions(): void;
  /** How many connections the server holds (its session processes). */
  sessionCount(): number;
  /** What sshd wrote to stderr so far (its log, at the LogLevel given in `config`). */
  log(): string;
  close(): Promise<void>;
}

function keygen(path: string, passphrase = ''): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'harvester-test', '-f', path]);
}

/**
 * `config`: sshd_config lines put before the helper's own (sshd takes the first value of a
 * keyword), e.g. `Ciphers chacha20-poly1305@openssh.com` or `LogLevel DEBUG1` (the benchmarks).
 */
export async function startSshd(opts: { rsaHostKey?: boolean; config?: string[] } = {}): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true });
  const dir = tempDir('harvester-sshd-');
  const root = join(dir, 'root');
  mkdirSync(root);
  keygen(join(dir, 'host_key'));
  // A second host key (RSA) after the Ed25519 one: a box that a known_hosts may know by either.
  if (opts.rsaHostKey) execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(dir, 'host_key_rsa')]);
  keygen(join(dir, 'client_key'));
  const passphrase = 'correct horse battery';
  execFileSync('cp', [join(dir, 'client_key'), join(dir, 'client_key_enc')]);
  execFileSync('ssh-keygen', ['-q', '-p', '-N', passphrase, '-f', join(dir, 'client_key_enc')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      ...(opts.config ?? []),
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      ...(opts.rsaHostKey ? [`HostKey ${join(dir, 'host_key_rsa')}`] : []),
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'Subsystem sftp internal-sftp',
      'MaxSessions 64',
      'MaxStartups 64:30:128',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const hostPublicKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const hostFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host_key.pub')], { encoding: 'utf8' }).split(/\s+/)[1]!;
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

  let child: ChildProcess | undefined;
  let stderr = '';
  const running = (): boolean => !!child && child.exitCode === null && child.signalCode === null;
  const start = async (): Promise<void> => {
    if (running()) return;
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => { stderr += d; });
    const deadline = Date.now() + 15_000;
    while (!(await greets(port, 'SSH-'))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`sshd did not listen on ${port}; stderr: ${stderr.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  // sshd forks one process per connection (and one more per session below it).
  const sessions = (): number[] => (child?.pid ? childPids(child.pid) : []);
  const signalSessions = (sig: NodeJS.Signals): void => signalPids(withDescendants(sessions()), sig);
  const stop = async (): Promise<void> => {
    if (running()) await killServer(child!, withDescendants(sessions()));
  };
  await start();
  return {
    port,
    dir,
    root,
    clientKey: join(dir, 'client_key'),
    encryptedKey: join(dir, 'client_key_enc'),
    passphrase,
    hostFingerprint,
    hostPublicKey,
    ...(opts.rsaHostKey ? { rsaHostPublicKey: readFileSync(join(dir, 'host_key_rsa.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ') } : {}),
    knownHosts,
    env: (path, extra = {}) => ({
      LOCAL_SEEDBOX_DIR: `sftp://root@127.0.0.1:${port}${path}`,
      SFTP_PRIVATE_KEY: join(dir, 'client_key'),
      SFTP_HOST_KEY: hostFingerprint,
      SSH_AUTH_SOCK: '',
      ...extra,
    }),
    stop,
    start,
    pauseSessions: () => signalSessions('SIGSTOP'),
    resumeSessions: () => signalSessions('SIGCONT'),
    sessionCount: () => sessions().length,
    log: () => stderr,
    close: async () => {
      await stop();
      removeDir(dir);
    },
  };
}

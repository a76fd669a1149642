// The SFTP settings of the configuration, read and checked before any connection:
// the credentials (a key file, its passphrase, a password, the ssh-agent) and the
// host key rule (a pinned fingerprint or known_hosts). A problem is a ConfigError
// naming the variable, so the daemon's start and `harvester check` stop on it.
import { readFileSync } from 'node:fs';
import { utils } from 'ssh2';
import { ConfigError } from '../config-error';
import { normalizeFingerprint, parseKnownHosts, type HostKeyPolicy } from './known-hosts';

/** The SFTP settings of the configuration (config.ts `sftp`). */
export interface SftpSettings {
  /** SFTP_PRIVATE_KEY: a key file (absolute). */
  privateKey: string | null;
  /** SFTP_PASSPHRASE (secret). */
  passphrase: string | null;
  /** SFTP_PASSWORD (secret). */
  password: string | null;
  /** SSH_AUTH_SOCK: the ssh-agent. */
  agentSocket: string | null;
  /** SFTP_KNOWN_HOSTS (absolute; default ~/.ssh/known_hosts). */
  knownHosts: string;
  /** SFTP_HOST_KEY: a pinned `SHA256:` fingerprint; wins over knownHosts. */
  hostKey: string | null;
}

/** What ssh2's connect() gets for authentication. */
export interface Credentials {
  privateKey?: Buffer;
  passphrase?: string;
  password?: string;
  agent?: string;
}

/**
 * The credentials the settings name, read and checked: a key file that is
 * missing, unreadable, not a key, or encrypted without SFTP_PASSPHRASE is a
 * ConfigError naming the variable (daemon start and `harvester check` stop on it).
 */
export function loadCredentials(s: SftpSettings): Credentials {
  const creds: Credentials = {};
  if (s.privateKey) {
    let data: Buffer;
    try {
      data = readFileSync(s.privateKey);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError('SFTP_PRIVATE_KEY', `${s.privateKey} cannot be read (${code === 'ENOENT' ? 'no such file' : code ?? 'error'})`);
    }
    const parsed = utils.parseKey(data, s.passphrase ?? undefined);
    if (parsed instanceof Error) {
      const encrypted = /encrypted|passphrase/i.test(parsed.message);
      if (encrypted && !s.passphrase) throw new ConfigError('SFTP_PASSPHRASE', `is required: the key ${s.privateKey} is encrypted`);
      if (s.passphrase && /decrypt|bad|passphrase/i.test(parsed.message)) {
        throw new ConfigError('SFTP_PASSPHRASE', `does not decrypt the key ${s.privateKey}`);
      }
      throw new ConfigError('SFTP_PRIVATE_KEY', `${s.privateKey} is not a private key ssh can use`);
    }
    creds.privateKey = data;
    if (s.passphrase) creds.passphrase = s.passphrase;
  }
  if (s.password) creds.password = s.password;
  if (s.agentSocket) creds.agent = s.agentSocket;
  if (!creds.privateKey && !creds.password && !creds.agent) {
    throw new ConfigError('SFTP_PRIVATE_KEY', 'an sftp:// seedbox needs SFTP_PRIVATE_KEY, SFTP_PASSWORD or an ssh-agent (SSH_AUTH_SOCK)');
  }
  return creds;
}

/** The host key rule the settings name: the pinned fingerprint, or the known_hosts file's lines (none if it is missing). */
export function loadHostKeyPolicy(s: SftpSettings): { policy: HostKeyPolicy; source: string } {
  if (s.hostKey) {
    const pinned = normalizeFingerprint(s.hostKey);
    if (!pinned) throw new ConfigError('SFTP_HOST_KEY', 'is not a SHA256: fingerprint (as `ssh-keygen -l -E sha256` prints it)');
    return { policy: { pinned }, source: 'SFTP_HOST_KEY' };
  }
  let text = '';
  try {
    text = readFileSync(s.knownHosts, 'utf8');
  } catch (err) {
    // A missing file knows no host: every key is refused with its fingerprint, which says what to do.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('SFTP_KNOWN_HOSTS', `${s.knownHosts} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { policy: { knownHosts: parseKnownHosts(text) }, source: `SFTP_KNOWN_HOSTS (${s.knownHosts})` };
}


// Whether a host key presented by an SSH server is the one the user trusts
// (DESIGN.md 7): listed for that host in a known_hosts file (OpenSSH's format:
// plain and hashed `|1|salt|hash` names, `[host]:port`, `*`/`?` wildcards,
// `!negation`, `@revoked`), or equal to a pinned `SHA256:` fingerprint. There is
// no trust on first use: an unknown key is refused like a changed one, with its
// fingerprint in the message so that the user can check and pin it.
//
// Written here rather than taken from a package: the format is small, stable
// and documented in sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT", and the packages
// that parse it do not do the hashed names and the port form together.
import { createHash, createHmac } from 'node:crypto';

/** OpenSSH's fingerprint form: `SHA256:` and unpadded base64 of the key blob, as `ssh-keygen -l -E sha256` prints. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** A fingerprint as a user may write it (padding or not): OpenSSH's form, or undefined if it is not one. */
export function normalizeFingerprint(text: string): string | undefined {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(text.trim());
  return m ? `SHA256:${m[1]}` : undefined;
}

/** The key type named inside an SSH public key blob (its first string), e.g. `ssh-ed25519`. */
export function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  if (len > 64 || keyBlob.length < 4 + len) return 'unknown';
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

export interface KnownHostLine {
  marker: 'revoked' | 'cert-authority' | null;
  patterns: string[];
  type: string;
  key: Buffer;
}

/** The lines of a known_hosts file; comments, blank and malformed lines are skipped (as ssh does). */
export function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostLine['marker'] = null;
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    } else if (fields[0]?.startsWith('@')) continue;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64) continue;
    const key = Buffer.from(base64, 'base64');
    // A blob names its own type: a line whose two disagree is damaged.
    if (key.length === 0 || keyType(key) !== type) continue;
    out.push({ marker, patterns: hosts.split(','), type, key });
  }
  return out;
}

/** The name known_hosts stores for a host: `host` on port 22, `[host]:port` otherwise. */
export function hostName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

function hashedMatches(pattern: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = pattern.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const expected = Buffer.from(parts[3]!, 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && expected.equals(actual);
}

function wildcardMatches(pattern: string, name: string): boolean {
  const re = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/** Does one line's host list name this host? A negated pattern that matches wins over everything. */
export function lineMatches(patterns: string[], host: string, port: number): boolean {
  const name = hostName(host, port);
  let matched = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    const hit = pattern.startsWith('|') ? hashedMatches(pattern, name) : wildcardMatches(pattern, name);
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

export type HostKeyVerdict =
  | { ok: true; fingerprint: string }
  | { ok: false; reason: 'unknown' | 'changed' | 'revoked' | 'mismatch'; fingerprint: string; type: string };

export interface HostKeyPolicy {
  /** SFTP_HOST_KEY, normalized; when set, the known_hosts file is not consulted. */
  pinned?: string;
  /** The known_hosts lines (already read). */
  knownHosts?: KnownHostLine[];
}

/** The verdict on a key `host:port` presented. */
export function verifyHostKey(policy: HostKeyPolicy, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const fp = fingerprint(keyBlob);
  const type = keyType(keyBlob);
  if (policy.pinned) return fp === policy.pinned ? { ok: true, fingerprint: fp } : { ok: false, reason: 'mismatch', fingerprint: fp, type };
  const lines = (policy.knownHosts ?? []).filter((l) => lineMatches(l.patterns, host, port));
  if (lines.some((l) => l.marker === 'revoked' && l.key.equals(keyBlob))) return { ok: false, reason: 'revoked', fingerprint: fp, type };
  const plain = lines.filter((l) => l.marker === null);
  if (plain.some((l) => l.key.equals(keyBlob))) return { ok: true, fingerprint: fp };
  // Known with another key of this type: the key changed (or someone is in the middle).
  if (plain.some((l) => l.type === type)) return { ok: false, reason: 'changed', fingerprint: fp, type };
  return { ok: false, reason: 'unknown', fingerprint: fp, type };
}

/** The one line that says why a host key was refused and what to pin. */
export function describeRefusal(v: Extract<HostKeyVerdict, { ok: false }>, host: string, port: number, source: string): string {
  const what = {
    unknown: `is not in ${source}`,
    changed: `differs from the one in ${source} (it changed, or someone is in between)`,
    revoked: `is marked @revoked in ${source}`,
    mismatch: `does not match SFTP_HOST_KEY`,
  }[v.reason];
  return `host key of ${hostName(host, port)} (${v.type} ${v.fingerprint}) ${what}: check it with the seedbox provider, then set SFTP_HOST_KEY=${v.fingerprint} or add it to SFTP_KNOWN_HOSTS`;
}

/** ssh2's own order of host key algorithms (1.17, lib/protocol/constants.js DEFAULT_SERVER_HOST_KEY). */
const DEFAULT_HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * The host key algorithms to offer, those of the keys known for this host
 * first (what OpenSSH does): a box known by its RSA key would otherwise show
 * its Ed25519 key, which known_hosts does not list, and be refused as unknown.
 * Undefined when nothing is known for the host (ssh2's default order).
 */
export function preferredHostKeyAlgorithms(policy: HostKeyPolicy, host: string, port: number): string[] | undefined {
  if (policy.pinned || !policy.knownHosts) return undefined;
  const known = new Set(policy.knownHosts.filter((l) => l.marker === null && lineMatches(l.patterns, host, port)).map((l) => l.type));
  if (known.size === 0) return undefined;
  const first = DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => known.has(a.startsWith('rsa-sha2-') ? 'ssh-rsa' : a));
  return [...first, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

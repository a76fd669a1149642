// Which host keys the SFTP transport trusts: known_hosts lines as OpenSSH writes
// them (plain, `[host]:port`, hashed by the real `ssh-keygen -H`), and pinned
// fingerprints in the form `ssh-keygen -l -E sha256` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../helpers';
import { fingerprint, normalizeFingerprint, parseKnownHosts, preferredHostKeyAlgorithms, verifyHostKey, describeRefusal } from '../../src/transfers/transports/known-hosts';

function hostKey(dir: string, name: string, type = 'ed25519'): { line: string; blob: Buffer; printed: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path]);
  const line = readFileSync(`${path}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(/\s+/)[1]!;
  return { line, blob: Buffer.from(line.split(' ')[1]!, 'base64'), printed };
}

test('the fingerprint of a host key is the one ssh-keygen -l -E sha256 prints (unpadded base64)', () => {
  const dir = tempDir();
  try {
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      const k = hostKey(dir, `k-${type}`, type);
      assert.equal(fingerprint(k.blob), k.printed, type);
      assert.ok(!fingerprint(k.blob).endsWith('='));
    }
  } finally {
    removeDir(dir);
  }
});

test('a pinned fingerprint is accepted with or without padding, and nothing else is a fingerprint', () => {
  const fp = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
  assert.equal(normalizeFingerprint(fp), fp);
  assert.equal(normalizeFingerprint(`${fp}=`), fp);
  assert.equal(normalizeFingerprint(` ${fp} `), fp);
  assert.equal(normalizeFingerprint('MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48'), undefined);
  assert.equal(normalizeFingerprint('uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'), undefined, 'the SHA256: prefix is required');
  assert.equal(normalizeFingerprint('SHA256:short'), undefined);
});

test('known_hosts: plain and [host]:port names match only their own port, hashed names as ssh-keygen -H writes them', () => {
  const dir = tempDir();
  try {
    const box = hostKey(dir, 'box');
    const other = hostKey(dir, 'other');
    const file = join(dir, 'known_hosts');
    writeFileSync(file, [
      '# a comment',
      `box.example.com,10.0.0.5 ${box.line}`,
      `[box.example.com]:2222 ${other.line}`,
      'garbage line',
      '',
    ].join('\n'));
    const plain = parseKnownHosts(readFileSync(file, 'utf8'));
    assert.equal(plain.length, 2, 'comments and malformed lines are skipped');
    // ssh-keygen -H refuses a file with a malformed line: hash the clean one.
    writeFileSync(file, readFileSync(file, 'utf8').replace('garbage line\n', ''));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const hashedText = readFileSync(file, 'utf8');
    assert.ok(!hashedText.includes('box.example.com') && hashedText.includes('|1|'), 'ssh-keygen hashed the names');
    for (const lines of [plain, parseKnownHosts(hashedText)]) {
      const policy = { knownHosts: lines };
      assert.deepEqual(verifyHostKey(policy, 'box.example.com', 22, box.blob), { ok: true, fingerprint: box.printed });
      assert.equal(verifyHostKey(policy, 'BOX.example.com', 22, box.blob).ok, true, 'host names compare without case');
      assert.equal(verifyHostKey(policy, '10.0.0.5', 22, box.blob).ok, true);
      assert.equal(verifyHostKey(policy, 'box.example.com', 2222, other.blob).ok, true, '[host]:port form');
      // The port-22 key is not the port-2222 key: on 2222 it is a changed key.
      const changed = verifyHostKey(policy, 'box.example.com', 2222, box.blob);
      assert.deepEqual(changed, { ok: false, reason: 'changed', fingerprint: box.printed, type: 'ssh-ed25519' });
      const unknown = verifyHostKey(policy, 'elsewhere.example.com', 22, box.blob);
      assert.equal(unknown.ok === false && unknown.reason, 'unknown');
    }
  } finally {
    removeDir(dir);
  }
});

test('known_hosts: wildcards, negation and @revoked', () => {
  const dir = tempDir();
  try {
    const k = hostKey(dir, 'k');
    const lines = parseKnownHosts([`*.seedbox.example,!evil.seedbox.example ${k.line}`, `@revoked * ${hostKey(dir, 'r').line}`].join('\n'));
    const policy = { knownHosts: lines };
    assert.equal(verifyHostKey(policy, 'fr1.seedbox.example', 22, k.blob).ok, true);
    const negated = verifyHostKey(policy, 'evil.seedbox.example', 22, k.blob);
    assert.equal(negated.ok === false && negated.reason, 'unknown', 'a negated name is not covered by the line');
    const revokedBlob = lines[1]!.key;
    const revoked = verifyHostKey(policy, 'fr1.seedbox.example', 22, revokedBlob);
    assert.equal(revoked.ok === false && revoked.reason, 'revoked');
  } finally {
    removeDir(dir);
  }
});

test('a pinned SFTP_HOST_KEY wins over known_hosts, and a refusal names the fingerprint to pin', () => {
  const dir = tempDir();
  try {
    const k = hostKey(dir, 'k');
    const other = hostKey(dir, 'o');
    assert.equal(verifyHostKey({ pinned: k.printed, knownHosts: [] }, 'h', 22, k.blob).ok, true);
    const v = verifyHostKey({ pinned: other.printed }, 'h', 2200, k.blob);
    assert.equal(v.ok, false);
    if (v.ok) return;
    const line = describeRefusal(v, 'h', 2200, 'SFTP_HOST_KEY');
    assert.match(line, /\[h\]:2200/);
    assert.ok(line.includes(`SFTP_HOST_KEY=${k.printed}`), line);
    assert.ok(!line.includes('\n'));
  } finally {
    removeDir(dir);
  }
});

test('a host known by its RSA key is asked for its RSA key first, not for a key known_hosts does not list', () => {
  const dir = tempDir();
  try {
    const rsa = hostKey(dir, 'rsa', 'rsa');
    const policy = { knownHosts: parseKnownHosts(`[box]:2222 ${rsa.line}\n`) };
    const order = preferredHostKeyAlgorithms(policy, 'box', 2222)!;
    assert.deepEqual(order.slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    assert.ok(order.includes('ssh-ed25519'), 'the others still follow');
    assert.equal(preferredHostKeyAlgorithms(policy, 'box', 22), undefined, 'nothing known for port 22: the default order');
    assert.equal(preferredHostKeyAlgorithms({ pinned: rsa.printed }, 'box', 2222), undefined);
  } finally {
    removeDir(dir);
  }
});

// LOCAL_SEEDBOX_DIR=ftps://... / FILES_FROM=ftps://... and the FTP_* variables
// (DESIGN.md 7): parsed, shown without secrets; plain ftp:// only with
// FTP_INSECURE=1 (and a warning); a password for any login but anonymous; the
// certificate fingerprint in the forms users copy it; typos refused, naming
// what harvester reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeConfig, SECRET_VARIABLES, secretValues } from '../../src/transfers/config';
import { formatSeedboxUrl, parseFtpUrl } from '../../src/transfers/transports/url';
import { normalizeCertFingerprint } from '../../src/transfers/transports/ftps-settings';
import { parseListTime } from '../../src/transfers/transports/ftps-entries';
import { configError, load } from '../helpers/config';
import { filesTransport } from '../../src/transfers/sources/create';
import { createClient } from '../../src/transfers/clients/create';
import { FtpsTransport } from '../../src/transfers/transports/ftps';

const FP = 'D4:CC:A3:B4:33:63:87:BB:5A:AD:95:F1:02:85:90:95:DE:AF:79:B2:55:D7:E6:F4:45:A5:1A:2B:CE:F0:34:C2';

test('an ftps:// URL: user, host, port 21 by default, the path as SFTP reads it', () => {
  assert.deepEqual(parseFtpUrl('ftps://me@box.example.com/home/me/done/'), { scheme: 'ftps', username: 'me', host: 'box.example.com', port: 21, path: '/home/me/done' });
  assert.deepEqual(parseFtpUrl('FTPS://me@box:2121/~/done'), { scheme: 'ftps', username: 'me', host: 'box', port: 2121, path: 'done' });
  assert.equal(parseFtpUrl('ftps://me@box').path, '.');
  assert.equal(parseFtpUrl('ftp://me@box:21/x').port, 21);
  assert.equal(formatSeedboxUrl(parseFtpUrl('ftps://me@[::1]:990/~/d')), 'ftps://me@[::1]:990/~/d');
  assert.throws(() => parseFtpUrl('ftps://box/x'), /needs a user/);
  assert.throws(() => parseFtpUrl('ftps://me:hunter2@box/x'), (err: Error) => /FTP_PASSWORD/.test(err.message) && !err.message.includes('hunter2'));
});

test('LOCAL_SEEDBOX_DIR=ftps://... is the folder source over FTPS, with FTP_PASSWORD a secret', () => {
  const cfg = load({ LOCAL_SEEDBOX_DIR: 'ftps://me@box:2121/done', FTP_PASSWORD: 'ftp-pw-s3cr3t' });
  assert.deepEqual(cfg.localSeedboxUrl, { scheme: 'ftps', username: 'me', host: 'box', port: 2121, path: '/done' });
  assert.equal(cfg.localSeedboxDir, null);
  assert.equal(cfg.pollingIntervalMs, 60_000);
  assert.deepEqual(cfg.ftp, { password: 'ftp-pw-s3cr3t', certFingerprint: null, insecure: false });
  assert.ok(SECRET_VARIABLES.includes('FTP_PASSWORD' as never));
  const shown = JSON.stringify(describeConfig(cfg));
  assert.ok(!shown.includes('ftp-pw-s3cr3t'), shown);
  assert.equal(describeConfig(cfg).LOCAL_SEEDBOX_DIR, 'ftps://me@box:2121/done');
  assert.ok(secretValues(cfg).includes('ftp-pw-s3cr3t'));
  assert.deepEqual(cfg.warnings, []);
  // FILES_FROM too, for a torrent client's files (the same rules, whichever the client).
  const files = load({ FILES_FROM: 'ftps://me@box/data', FTP_PASSWORD: 'x' });
  assert.deepEqual(files.filesFrom, { kind: 'ftps', url: { scheme: 'ftps', username: 'me', host: 'box', port: 21, path: '/data' } });
});

test('a missing FTP_PASSWORD, plain ftp:// without FTP_INSECURE=1, a ftsp:// typo: one line naming the variable', () => {
  const missing = configError(() => load({ LOCAL_SEEDBOX_DIR: 'ftps://me@box/done' }));
  assert.equal(missing.variable, 'FTP_PASSWORD');
  assert.match(missing.message, /^FTP_PASSWORD: is required when LOCAL_SEEDBOX_DIR is an ftps:\/\/ URL/);
  assert.equal(configError(() => load({ FILES_FROM: 'ftps://me@box/d' })).variable, 'FTP_PASSWORD');
  assert.equal(configError(() => load({ FILES_FROM: 'ftp://me@box/d', FTP_PASSWORD: 'x' })).variable, 'FILES_FROM');
  // Anonymous logins need none.
  assert.equal(load({ LOCAL_SEEDBOX_DIR: 'ftps://anonymous@box/pub' }).ftp.password, null);
  const plain = configError(() => load({ LOCAL_SEEDBOX_DIR: 'ftp://me@box/done', FTP_PASSWORD: 'x' }));
  assert.equal(plain.variable, 'LOCAL_SEEDBOX_DIR');
  assert.match(plain.message, /plain ftp:\/\/ URL.*FTP_INSECURE=1/);
  const allowed = load({ LOCAL_SEEDBOX_DIR: 'ftp://me@box/done', FTP_PASSWORD: 'x', FTP_INSECURE: '1' });
  assert.equal(allowed.localSeedboxUrl?.scheme, 'ftp');
  assert.ok(allowed.warnings.some((w) => /^LOCAL_SEEDBOX_DIR is plain ftp:\/\/ \(FTP_INSECURE=1\)/.test(w)), String(allowed.warnings));
  const typo = configError(() => load({ LOCAL_SEEDBOX_DIR: 'ftsp://me@box/done' }));
  assert.equal(typo.variable, 'LOCAL_SEEDBOX_DIR');
  assert.match(typo.message, /^LOCAL_SEEDBOX_DIR: is a ftsp:\/\/ URL, which harvester does not read \(use sftp:\/\/user@host\[:port\]\/path, ftps:\/\/user@host\[:port\]\/path, or a folder\)$/);
  assert.equal(configError(() => load({ LOCAL_SEEDBOX_DIR: 'ftps://me@box/d', FTP_PASSWORD: 'x', FTP_INSECURE: 'maybe' })).variable, 'FTP_INSECURE');
});

test('FTP_CERT_FINGERPRINT: AA:BB:.., plain hex or openssl\'s line, any case; anything else names the variable', () => {
  const plainHex = FP.replace(/:/g, '').toLowerCase();
  for (const written of [FP, FP.toLowerCase(), plainHex, `SHA256 Fingerprint=${FP}`, ` ${FP} `]) {
    assert.equal(normalizeCertFingerprint(written), FP, written);
  }
  for (const bad of ['AB:CD', FP.slice(3), `${FP}:00`, 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s', plainHex.slice(2) + 'zz']) {
    assert.equal(normalizeCertFingerprint(bad), undefined, bad);
  }
  assert.equal(load({ LOCAL_SEEDBOX_DIR: 'ftps://me@box/d', FTP_PASSWORD: 'x', FTP_CERT_FINGERPRINT: plainHex }).ftp.certFingerprint, FP);
  assert.equal(configError(() => load({ LOCAL_SEEDBOX_DIR: 'ftps://me@box/d', FTP_PASSWORD: 'x', FTP_CERT_FINGERPRINT: 'ab:cd' })).variable, 'FTP_CERT_FINGERPRINT');
});

test('LIST times: the last six months with a time, older ones with a year, taken as UTC', () => {
  const now = Date.UTC(2026, 11, 2, 3, 0);
  assert.equal(parseListTime('Dec 02 02:54', now), Date.UTC(2026, 11, 2, 2, 54));
  assert.equal(parseListTime('Dec 25 10:00', now), Date.UTC(2025, 11, 25, 10, 0), 'ahead of now: last year');
  assert.equal(parseListTime('Jan  5  2024', now), Date.UTC(2024, 0, 5));
  assert.equal(parseListTime('nonsense', now), 0);
});

test('FILES_FROM=ftps:// and LOCAL_SEEDBOX_DIR=ftps:// are read through the FTPS transport (no connection until a call)', async () => {
  const files = filesTransport(load({ FILES_FROM: 'ftps://me@box:2121/srv/data', FTP_PASSWORD: 'x' }));
  assert.ok(files.transport instanceof FtpsTransport);
  assert.equal(files.transport.describe, 'ftps me@box:2121');
  assert.equal(files.transportRoot, '/srv/data');
  assert.equal(files.asReported, false);
  const bare = filesTransport(load({ FILES_FROM: 'ftps://me@box', FTP_PASSWORD: 'x' }));
  assert.equal(bare.asReported, true, 'no path: the paths the client reports, as they are');
  await files.transport.close();
  await bare.transport.close();
  // Port 9 on loopback refuses at once: the folder source's check names the plain FTP transport.
  const client = createClient(load({ LOCAL_SEEDBOX_DIR: 'ftp://me@127.0.0.1:9/done', FTP_PASSWORD: 'x', FTP_INSECURE: '1' }));
  const check = await client.check!(AbortSignal.timeout(10_000)).then(() => 'ok', (err: Error) => err.message);
  assert.equal(check, 'ftp me@127.0.0.1:9: cannot connect (ECONNREFUSED)');
  await client.close?.();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, describeConfig, maskUrl, parseBindAddress, secretValues } from '../../src/transfers/config';
import { formatDuration, formatSize, parseDuration, parseRate, parseSize } from '../../src/transfers/units';

import { CONFIG_CWD as cwd, configError, load } from '../helpers/config';

// Every secret a full configuration can hold, each distinctive so a leak is easy to spot.
const SECRETS = {
  PUTIO_TOKEN: 'putio-token-s3cr3t',
  DELUGE_PASSWORD: 'deluge-pw-s3cr3t',
  SONARR_API_KEY: 'sonarr-key-s3cr3t',
  RADARR_API_KEY: 'radarr-key-s3cr3t',
  TRANSMISSION_PASSWORD: 'transmission-pw-s3cr3t',
  HTTP_TOKEN: 'http-token-s3cr3t',
  DISCORD_WEBHOOK_URL: 'https://discord.com/api/webhooks/123/discord-hook-s3cr3t',
  WEBHOOK_URL: 'https://hooks.example.com/generic-hook-s3cr3t?sig=hook-sig-s3cr3t',
};

test('a newcomer with no configuration gets the embedded local default under ./data', () => {
  const cfg = load({});
  assert.equal(cfg.downloadClient, 'local');
  assert.equal(cfg.downloadDir, path.join(cwd, 'data/downloads'));
  assert.equal(cfg.localSeedboxDir, path.join(cwd, 'data/seedbox'));
  assert.equal(cfg.dbPath, path.join(cwd, 'data/harvester.db'));
  assert.equal(cfg.targetLabel, '');
  assert.equal(cfg.pollingIntervalMs, 5_000, 'a dropped folder should arrive within seconds');
  assert.equal(cfg.cleanupIntervalMs, 600_000);
  assert.equal(cfg.keepDownloadedForMs, 24 * 3_600_000);
  assert.equal(cfg.maxParallel, 5);
  assert.equal(cfg.logLevel, 'info');
  assert.equal(cfg.seedRatio, null, 'the local client never removes what the user owns');
  assert.deepEqual(cfg.transmission.bind, { host: '127.0.0.1', port: 9091 });
  assert.deepEqual(cfg.http.bind, { host: '127.0.0.1', port: 9092 });
  assert.equal(cfg.firstRun, 'all');
  assert.equal(cfg.maxAttempts, 5);
  assert.equal(cfg.minFreeSpaceBytes, 1024 ** 3);
  assert.equal(cfg.maxDownloadRateBytesPerSec, null);
  assert.equal(cfg.retentionMs, 30 * 86_400_000);
  assert.equal(cfg.umask, 0o002);
  assert.equal(cfg.puid, null);
  assert.equal(cfg.putio.apiUrl, 'https://api.put.io');
  assert.equal(cfg.putio.uploadUrl, 'https://upload.put.io');
  assert.deepEqual(cfg.warnings, []);
});

test('remote seedboxes are polled every 10 minutes by default, so their rate limits are respected', () => {
  assert.equal(load({ DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: 't' }).pollingIntervalMs, 600_000);
  assert.equal(load({ DOWNLOAD_CLIENT: 'deluge', DELUGE_BASE_URL: 'http://deluge:8112' }).pollingIntervalMs, 600_000);
  assert.equal(load({ DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: 't', POLLING_INTERVAL: '1h30m' }).pollingIntervalMs, 5_400_000);
});

test('a typo in POLLING_INTERVAL stops start-up with one line naming the variable', () => {
  const err = configError(() => load({ POLLING_INTERVAL: '10x' }));
  assert.equal(err.message, 'POLLING_INTERVAL: "10x" is not a duration (use e.g. 30s, 10m, 24h)');
  assert.equal(err.variable, 'POLLING_INTERVAL');
});

test('every bad variable is named in the same single line, so one restart fixes them all', () => {
  const err = configError(() => load({ MAX_PARALLEL: '0', CLEANUP_INTERVAL: 'soon', LOG_LEVEL: 'loud' }));
  assert.doesNotMatch(err.message, /\n/);
  for (const v of ['MAX_PARALLEL', 'CLEANUP_INTERVAL', 'LOG_LEVEL']) assert.match(err.message, new RegExp(`${v}: `));
});

test('a value with a newline still gives a one-line error', () => {
  const err = configError(() => load({ CLEANUP_INTERVAL: '10m\nrm -rf /' }));
  assert.doesNotMatch(err.message, /[\r\n]/);
  assert.match(err.message, /^CLEANUP_INTERVAL: /);
});

test('an interval of zero or beyond what a timer can wait is refused instead of spinning or firing at once', () => {
  assert.match(configError(() => load({ POLLING_INTERVAL: '0' })).message, /^POLLING_INTERVAL: must be longer than 0/);
  assert.match(configError(() => load({ CLEANUP_INTERVAL: '30d' })).message, /^CLEANUP_INTERVAL: .*too long/);
});

test('MAX_PARALLEL outside 1..64 is refused instead of deadlocking the downloader', () => {
  for (const bad of ['0', '-1', '65', '2.5', 'five']) {
    assert.match(configError(() => load({ MAX_PARALLEL: bad })).message, /^MAX_PARALLEL: .* is not a whole number from 1 to 64$/);
  }
  assert.equal(load({ MAX_PARALLEL: ' 64 ' }).maxParallel, 64);
});

test('KEEP_DOWNLOADED_FOR=never turns cleanup off, and RETENTION=never keeps history', () => {
  assert.equal(load({ KEEP_DOWNLOADED_FOR: 'never' }).keepDownloadedForMs, null);
  assert.equal(load({ KEEP_DOWNLOADED_FOR: 'NEVER' }).keepDownloadedForMs, null);
  assert.equal(load({ KEEP_DOWNLOADED_FOR: '7d' }).keepDownloadedForMs, 7 * 86_400_000);
  assert.equal(load({ KEEP_DOWNLOADED_FOR: '0' }).keepDownloadedForMs, 0);
  assert.equal(load({ RETENTION: 'never' }).retentionMs, null);
});

test('LOG_LEVEL is accepted in any case and anything else is refused', () => {
  assert.equal(load({ LOG_LEVEL: 'DEBUG' }).logLevel, 'debug');
  assert.equal(load({ LOG_LEVEL: 'Warn' }).logLevel, 'warn');
  assert.equal(
    configError(() => load({ LOG_LEVEL: 'verbose' })).message,
    'LOG_LEVEL: "verbose" is not one of trace, debug, info, warn, error, fatal',
  );
});

test('a blank variable (FOO= in a compose file) means unset, not empty', () => {
  const cfg = load({ POLLING_INTERVAL: '', DOWNLOAD_DIR: '  ', DISCORD_WEBHOOK_URL: '' });
  assert.equal(cfg.pollingIntervalMs, 5_000);
  assert.equal(cfg.downloadDir, path.join(cwd, 'data/downloads'));
  assert.equal(cfg.discordWebhookUrl, null);
});

test('relative directories resolve against the working directory, absolute ones stay', () => {
  const cfg = load({ DOWNLOAD_DIR: 'dl', DB_PATH: '/config/harvester.db', DELUGE_MOUNT_DIR: 'mnt' });
  assert.equal(cfg.downloadDir, '/srv/harvester/dl');
  assert.equal(cfg.dbPath, '/config/harvester.db');
  assert.equal(cfg.deluge.mountDir, '/srv/harvester/mnt');
});

test('put.io without PUTIO_TOKEN stops start-up instead of failing at the first poll', () => {
  assert.equal(configError(() => load({ DOWNLOAD_CLIENT: 'putio' })).message, 'PUTIO_TOKEN: is required when DOWNLOAD_CLIENT=putio');
});

test('deluge without DELUGE_BASE_URL stops start-up, and without a file source it warns', () => {
  assert.equal(
    configError(() => load({ DOWNLOAD_CLIENT: 'deluge' })).message,
    'DELUGE_BASE_URL: is required when DOWNLOAD_CLIENT=deluge',
  );
  const cfg = load({ DOWNLOAD_CLIENT: 'Deluge', DELUGE_BASE_URL: 'http://deluge:8112/' });
  assert.equal(cfg.downloadClient, 'deluge');
  assert.equal(cfg.deluge.baseUrl, 'http://deluge:8112');
  assert.equal(cfg.deluge.apiUrlPath, '/json');
  assert.equal(cfg.warnings.length, 1);
  assert.match(cfg.warnings[0]!, /DELUGE_COMPLETED_DIR/);
  assert.deepEqual(load({ DOWNLOAD_CLIENT: 'deluge', DELUGE_BASE_URL: 'http://d', DELUGE_MOUNT_DIR: '/mnt' }).warnings, []);
});

test('an unknown DOWNLOAD_CLIENT is refused instead of panicking later', () => {
  assert.equal(
    configError(() => load({ DOWNLOAD_CLIENT: 'utorrent' })).message,
    'DOWNLOAD_CLIENT: "utorrent" is not one of local, putio, deluge, qbittorrent, rtorrent, transmission',
  );
});

test('DOWNLOAD_CLIENT=transmission needs CLIENT_URL, and takes CLIENT_USERNAME/CLIENT_PASSWORD with it', () => {
  assert.equal(configError(() => load({ DOWNLOAD_CLIENT: 'transmission' })).message, 'CLIENT_URL: is required when DOWNLOAD_CLIENT=transmission');
  const cfg = load({ DOWNLOAD_CLIENT: 'transmission', CLIENT_URL: 'http://box:9091/transmission/rpc', CLIENT_USERNAME: 'me', CLIENT_PASSWORD: 'pw-s3cr3t' });
  assert.equal(cfg.downloadClient, 'transmission');
  assert.deepEqual(cfg.torrentClient, { url: 'http://box:9091/transmission/rpc', username: 'me', password: 'pw-s3cr3t' });
});

test('DOWNLOAD_CLIENT=rtorrent needs CLIENT_URL, an https://.../RPC2 or scgi://host:port, and never quotes it back', () => {
  assert.equal(configError(() => load({ DOWNLOAD_CLIENT: 'rtorrent' })).message, 'CLIENT_URL: is required when DOWNLOAD_CLIENT=rtorrent');
  const cfg = load({ DOWNLOAD_CLIENT: 'rtorrent', CLIENT_URL: 'https://box.example/RPC2', CLIENT_USERNAME: 'me', CLIENT_PASSWORD: 'pw', TARGET_LABEL: 'harvester' });
  assert.equal(cfg.downloadClient, 'rtorrent');
  assert.deepEqual(cfg.torrentClient, { url: 'https://box.example/RPC2', username: 'me', password: 'pw' });
  assert.equal(load({ DOWNLOAD_CLIENT: 'rtorrent', CLIENT_URL: 'scgi://127.0.0.1:5000' }).torrentClient.url, 'scgi://127.0.0.1:5000');
  const bad = configError(() => load({ DOWNLOAD_CLIENT: 'rtorrent', CLIENT_URL: 'scgi://me:s3cret-pass@box' })).message;
  assert.equal(bad, 'CLIENT_URL: needs a host and a port: scgi://host:port');
});

test('DOWNLOAD_CLIENT=qbittorrent needs CLIENT_URL; with it, the client and its credentials are the config', () => {
  assert.match(configError(() => load({ DOWNLOAD_CLIENT: 'qbittorrent' })).message, /CLIENT_URL: is required when DOWNLOAD_CLIENT=qbittorrent/);
  const c = load({ DOWNLOAD_CLIENT: 'qbittorrent', CLIENT_URL: 'http://box:8080', CLIENT_USERNAME: 'admin', CLIENT_PASSWORD: 'pw' });
  assert.equal(c.downloadClient, 'qbittorrent');
  assert.deepEqual(c.torrentClient, { url: 'http://box:8080', username: 'admin', password: 'pw' });
});

test('seed ratio: SEED_RATIO wins over PUTIO_SEED_RATIO; put.io removes at once by default, Deluge never', () => {
  const putio = { DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: 't' };
  assert.equal(load(putio).seedRatio, 0);
  assert.equal(load({ ...putio, PUTIO_SEED_RATIO: '1.5' }).seedRatio, 1.5);
  assert.equal(load({ ...putio, PUTIO_SEED_RATIO: '1.5', SEED_RATIO: '2' }).seedRatio, 2);
  assert.equal(load({ ...putio, PUTIO_SEED_RATIO: '1.5', SEED_RATIO: 'never' }).seedRatio, null);
  const deluge = { DOWNLOAD_CLIENT: 'deluge', DELUGE_BASE_URL: 'http://d', DELUGE_MOUNT_DIR: '/m' };
  assert.equal(load(deluge).seedRatio, null);
  assert.equal(load({ ...deluge, SEED_RATIO: '1' }).seedRatio, 1);
  assert.match(configError(() => load({ SEED_RATIO: '-1' })).message, /^SEED_RATIO: "-1" is not a ratio/);
});

test('the Transmission endpoint listens on every interface only when credentials protect it', () => {
  assert.deepEqual(load({}).transmission.bind, { host: '127.0.0.1', port: 9091 });
  const cfg = load({ TRANSMISSION_USERNAME: 'sonarr', TRANSMISSION_PASSWORD: 'pw' });
  assert.deepEqual(cfg.transmission.bind, { host: '0.0.0.0', port: 9091 });
  assert.deepEqual(load({ WEB_BIND_ADDRESS: '[::1]:8080' }).transmission.bind, { host: '::1', port: 8080 });
  const open = load({ WEB_BIND_ADDRESS: ':9091' });
  assert.deepEqual(open.transmission.bind, { host: '0.0.0.0', port: 9091 });
  assert.match(open.warnings.join('\n'), /WEB_BIND_ADDRESS is not loopback/);
});

test('half a credential is refused instead of leaving the endpoint silently open', () => {
  const err = configError(() => load({ TRANSMISSION_PASSWORD: SECRETS.TRANSMISSION_PASSWORD }));
  assert.equal(err.message, 'TRANSMISSION_USERNAME: is required when TRANSMISSION_PASSWORD is set');
  assert.match(configError(() => load({ SONARR_BASE_URL: 'http://sonarr:8989' })).message, /^SONARR_API_KEY: is required/);
  assert.match(configError(() => load({ RADARR_API_KEY: 'k' })).message, /^RADARR_BASE_URL: is required/);
});

test('bad bind addresses are refused with an example', () => {
  for (const bad of ['9091', 'host', 'host:99999', '::1:9091', 'a b:1']) {
    assert.match(configError(() => load({ HTTP_BIND: bad })).message, /^HTTP_BIND: .* is not an address/, bad);
  }
  assert.deepEqual(parseBindAddress('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
});

test('sizes, rates, umask and ids for the long run', () => {
  const cfg = load({ MIN_FREE_SPACE: '1.5G', MAX_DOWNLOAD_RATE: '20M/s', UMASK: '022', PUID: '1000', PGID: '100', FIRST_RUN: 'new' });
  assert.equal(cfg.minFreeSpaceBytes, 1.5 * 1024 ** 3);
  assert.equal(cfg.maxDownloadRateBytesPerSec, 20 * 1024 ** 2);
  assert.equal(cfg.umask, 0o022);
  assert.equal(cfg.puid, 1000);
  assert.equal(cfg.pgid, 100);
  assert.equal(cfg.firstRun, 'new');
  assert.equal(load({ MAX_DOWNLOAD_RATE: '0' }).maxDownloadRateBytesPerSec, null, '0 means no cap');
  assert.match(configError(() => load({ UMASK: '999' })).message, /^UMASK: "999" is not an octal umask/);
  assert.match(configError(() => load({ MIN_FREE_SPACE: '1 gig' })).message, /^MIN_FREE_SPACE: "1 gig" is not a size/);
  assert.match(configError(() => load({ MAX_DOWNLOAD_RATE: 'fast' })).message, /^MAX_DOWNLOAD_RATE: "fast" is not a rate/);
  assert.match(configError(() => load({ FIRST_RUN: 'some' })).message, /^FIRST_RUN: "some" is not one of all, new/);
  assert.match(configError(() => load({ PUID: '-1' })).message, /^PUID: /);
});

test('a bad secret is reported without its value', () => {
  for (const [variable, value] of [
    ['DISCORD_WEBHOOK_URL', 'not a url discord-s3cr3t'],
    ['WEBHOOK_URL', 'ftp://user:pw-s3cr3t@host/x'],
    ['SONARR_BASE_URL', 'sonarr:8989/?apikey=k-s3cr3t'],
  ] as const) {
    const err = configError(() => load({ [variable]: value }));
    assert.match(err.message, new RegExp(`^${variable}: `));
    assert.doesNotMatch(err.message, /s3cr3t/, err.message);
  }
});

test('harvester check and the start-up log show every setting with every secret masked', () => {
  const cfg = load({
    ...SECRETS,
    DOWNLOAD_CLIENT: 'putio',
    DELUGE_BASE_URL: 'http://admin:deluge-url-pw-s3cr3t@deluge:8112',
    SONARR_BASE_URL: 'http://sonarr:8989/?apikey=sonarr-url-key-s3cr3t',
    RADARR_BASE_URL: 'https://radarr.example.com',
    TRANSMISSION_USERNAME: 'sonarr',
    PUTIO_API_URL: 'http://127.0.0.1:4000',
  });
  const shown = describeConfig(cfg);
  const text = JSON.stringify(shown);
  assert.doesNotMatch(text, /s3cr3t/);
  const secrets = secretValues(cfg);
  for (const s of Object.values(SECRETS)) assert.ok(secrets.includes(s), `secretValues lists ${s}`);
  assert.ok(secrets.includes('deluge-url-pw-s3cr3t'));
  assert.ok(secrets.includes('sonarr-url-key-s3cr3t'));
  for (const s of secrets) assert.ok(!text.includes(s), `describeConfig leaks ${s}`);
  assert.equal(shown.PUTIO_TOKEN, '***');
  assert.equal(shown.DISCORD_WEBHOOK_URL, 'https://discord.com/***');
  assert.equal(shown.DELUGE_BASE_URL, 'http://***@deluge:8112');
  assert.equal(shown.SONARR_BASE_URL, 'http://sonarr:8989/?apikey=***');
  assert.equal(shown.RADARR_BASE_URL, 'https://radarr.example.com');
  assert.equal(shown.PUTIO_API_URL, 'http://127.0.0.1:4000');
  assert.equal(shown.TRANSMISSION_USERNAME, 'sonarr');
  assert.equal(shown.POLLING_INTERVAL, '10m');
  assert.equal(shown.KEEP_DOWNLOADED_FOR, '24h');
  assert.equal(shown.RETENTION, '30d');
  assert.equal(shown.MIN_FREE_SPACE, '1G');
  assert.equal(shown.UMASK, '002');
  assert.equal(shown.HTTP_TOKEN, '***');
  assert.equal(load({}).putio.token, null);
  assert.equal(describeConfig(load({})).PUTIO_TOKEN, null, 'an unset secret shows as unset, not masked');
});

test('maskUrl hides credentials and query values, and an unparsable URL entirely', () => {
  assert.equal(maskUrl('https://u:p@host/path?token=abc&x=1'), 'https://***@host/path?token=***&x=***');
  assert.equal(maskUrl('not a url with secret'), '***');
});

test('durations read like Go durations, with combos and days', () => {
  const cases: Array<[string, number]> = [
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2m30s500ms', 150_500],
    [' 5s ', 5_000],
    ['0', 0],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text, 'X'), ms, text);
  for (const bad of ['', '10', '10x', '-5s', '5 s', '10M', 'h', '1h 30m', '1e3s', 'ms', '.s']) {
    assert.throws(() => parseDuration(bad, 'X'), ConfigError, bad);
  }
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(86_400_000), '24h');
  assert.equal(formatDuration(2 * 86_400_000), '2d');
  assert.equal(formatDuration(1_500), '1s500ms');
});

test('sizes are binary (1K = 1024) and accept the usual spellings', () => {
  const cases: Array<[string, number]> = [
    ['1G', 1024 ** 3],
    ['1g', 1024 ** 3],
    ['1GB', 1024 ** 3],
    ['1GiB', 1024 ** 3],
    ['512M', 512 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['100K', 102_400],
    ['4096', 4096],
    ['0', 0],
    ['2T', 2 * 1024 ** 4],
  ];
  for (const [text, bytes] of cases) assert.equal(parseSize(text, 'X'), bytes, text);
  for (const bad of ['', 'G', '1X', '-1G', '1..5G', '1 G B']) assert.throws(() => parseSize(bad, 'X'), ConfigError, bad);
  assert.equal(parseRate('20M', 'X'), 20 * 1024 ** 2);
  assert.equal(parseRate('512Kps', 'X'), 512 * 1024);
  assert.equal(formatSize(1024 ** 3), '1G');
  assert.equal(formatSize(1536), '1.5K');
  assert.equal(formatSize(12), '12');
});

test('property: the duration parser never throws anything but a one-line ConfigError', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (text) => {
      try {
        const ms = parseDuration(text, 'POLLING_INTERVAL');
        return Number.isSafeInteger(ms) && ms >= 0;
      } catch (err) {
        return err instanceof ConfigError && !/[\r\n]/.test(err.message) && err.message.startsWith('POLLING_INTERVAL: ');
      }
    }),
    { numRuns: 2000 },
  );
  // Also on strings made of the grammar's own characters, where the near misses are.
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9.mshdw ]{0,12}$/), (text) => {
      try {
        return parseDuration(text) >= 0;
      } catch (err) {
        return err instanceof ConfigError;
      }
    }),
    { numRuns: 2000 },
  );
});

test('property: a combo of duration parts is the sum of its parts, and its formatted form reads back the same', () => {
  const unit = fc.constantFrom(['ms', 1], ['s', 1_000], ['m', 60_000], ['h', 3_600_000], ['d', 86_400_000]);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat({ max: 10_000 }), unit), { minLength: 1, maxLength: 5 }), (parts) => {
      const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
      const expected = parts.reduce((sum, [n, [, size]]) => sum + n * (size as number), 0);
      const ms = parseDuration(text);
      return ms === expected && parseDuration(formatDuration(ms)) === ms;
    }),
  );
});

test('property: no configuration error ever quotes a secret', () => {
  const secretVars = ['PUTIO_TOKEN', 'DELUGE_PASSWORD', 'SONARR_API_KEY', 'TRANSMISSION_PASSWORD', 'HTTP_TOKEN', 'DISCORD_WEBHOOK_URL', 'WEBHOOK_URL'];
  const anyVar = fc.constantFrom(
    'POLLING_INTERVAL', 'MAX_PARALLEL', 'LOG_LEVEL', 'DOWNLOAD_CLIENT', 'HTTP_BIND', 'UMASK', 'SONARR_BASE_URL', 'TRANSMISSION_USERNAME',
    ...secretVars,
  );
  fc.assert(
    fc.property(fc.dictionary(anyVar, fc.string({ minLength: 1, maxLength: 20 })), fc.string({ minLength: 8, maxLength: 20 }), (env, secret) => {
      const marked = `Zq${secret.replace(/[^A-Za-z0-9]/g, 'x')}Zq`;
      const withSecrets: Record<string, string> = { ...env };
      for (const v of secretVars) if (v in withSecrets) withSecrets[v] = `https://h/${marked}`;
      try {
        const cfg = load(withSecrets);
        return !JSON.stringify(describeConfig(cfg)).includes(marked);
      } catch (err) {
        return err instanceof ConfigError && !err.message.includes(marked) && !/[\r\n]/.test(err.message);
      }
    }),
    { numRuns: 500 },
  );
});

test('STALL_TIMEOUT (2h) and IMPORT_TIMEOUT (24h) read like durations, never turns them off, and a bad one is one line naming it', () => {
  const d = load({});
  assert.deepEqual([d.stallTimeoutMs, d.importTimeoutMs], [2 * 3_600_000, 24 * 3_600_000]);
  const c = load({ STALL_TIMEOUT: '90m', IMPORT_TIMEOUT: 'never' });
  assert.deepEqual([c.stallTimeoutMs, c.importTimeoutMs], [90 * 60_000, null]);
  assert.equal(load({ STALL_TIMEOUT: 'NEVER' }).stallTimeoutMs, null);
  assert.deepEqual([describeConfig(c).STALL_TIMEOUT, describeConfig(c).IMPORT_TIMEOUT], ['1h30m', 'never']);
  for (const [variable, value] of [['STALL_TIMEOUT', '2 hours'], ['IMPORT_TIMEOUT', '0'], ['IMPORT_TIMEOUT', '-1h'], ['STALL_TIMEOUT', '10']] as const) {
    const err = configError(() => load({ [variable]: value }));
    assert.match(err.message, new RegExp(`^${variable}: `), `${variable}=${value}`);
    assert.doesNotMatch(err.message, /\n/);
  }
});

test('Lidarr and Readarr come in pairs like Sonarr, and their keys and ARR_WEBHOOK_TOKEN are secrets', () => {
  const cfg = load({
    LIDARR_BASE_URL: 'http://lidarr:8686/', LIDARR_API_KEY: 'lidarr-key-s3cr3t',
    READARR_BASE_URL: 'http://readarr:8787', READARR_API_KEY: 'readarr-key-s3cr3t',
    ARR_WEBHOOK_TOKEN: 'arr-hook-token-s3cr3t-0123456789',
  });
  assert.deepEqual(cfg.lidarr, { baseUrl: 'http://lidarr:8686', apiKey: 'lidarr-key-s3cr3t' });
  assert.deepEqual(cfg.readarr, { baseUrl: 'http://readarr:8787', apiKey: 'readarr-key-s3cr3t' });
  assert.equal(cfg.arrWebhookToken, 'arr-hook-token-s3cr3t-0123456789');
  const shown = describeConfig(cfg);
  assert.doesNotMatch(JSON.stringify(shown), /s3cr3t/);
  assert.deepEqual([shown.LIDARR_API_KEY, shown.READARR_API_KEY, shown.ARR_WEBHOOK_TOKEN], ['***', '***', '***']);
  for (const s of ['lidarr-key-s3cr3t', 'readarr-key-s3cr3t', 'arr-hook-token-s3cr3t-0123456789']) assert.ok(secretValues(cfg).includes(s), s);
  assert.match(configError(() => load({ LIDARR_API_KEY: 'k' })).message, /^LIDARR_BASE_URL: is required when LIDARR_API_KEY is set/);
  assert.match(configError(() => load({ READARR_BASE_URL: 'readarr:8787' })).message, /^READARR_BASE_URL: /);
  assert.ok(load({ ARR_WEBHOOK_TOKEN: 'short' }).warnings.some((w) => /ARR_WEBHOOK_TOKEN is shorter than 16/.test(w)));
});

// ---------------------------------------------------------------------------
// PUTIO_TOKEN_FILE and HTTP_TOKEN_FILE (Docker secrets): the value comes from a file.

function secretFile(content: string, mode = 0o600): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'harvester-config-'));
  const file = path.join(dir, 'secret');
  writeFileSync(file, content, { mode });
  return file;
}

test('PUTIO_TOKEN_FILE and HTTP_TOKEN_FILE give the tokens, their trailing newline trimmed', () => {
  const putio = secretFile('putio-from-file\n');
  const http = secretFile('http-from-file\r\n');
  const cfg = load({ DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN_FILE: putio, HTTP_TOKEN_FILE: http });
  assert.equal(cfg.putio.token, 'putio-from-file');
  assert.equal(cfg.http.token, 'http-from-file');
  // Masked like a token given directly, and known to the redaction.
  assert.equal(describeConfig(cfg).PUTIO_TOKEN, '***');
  assert.ok(secretValues(cfg).includes('putio-from-file') && secretValues(cfg).includes('http-from-file'));
  assert.doesNotMatch(JSON.stringify(describeConfig(cfg)), /from-file/);
});

test('a token file satisfies DOWNLOAD_CLIENT=putio, which otherwise requires PUTIO_TOKEN', () => {
  assert.match(configError(() => load({ DOWNLOAD_CLIENT: 'putio' })).message, /^PUTIO_TOKEN: is required/);
  assert.equal(load({ DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN_FILE: secretFile('t') }).putio.token, 't');
});

test('a variable and its _FILE both set is one clear error that quotes neither secret', () => {
  const file = secretFile('file-s3cr3t\n');
  const err = configError(() => load({ DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN: 'env-s3cr3t', PUTIO_TOKEN_FILE: file }));
  assert.equal(err.message, 'PUTIO_TOKEN_FILE: cannot be set together with PUTIO_TOKEN: keep one');
  const both = configError(() => load({ HTTP_TOKEN: 'env-s3cr3t', HTTP_TOKEN_FILE: file }));
  assert.equal(both.variable, 'HTTP_TOKEN_FILE');
  assert.doesNotMatch(both.message, /s3cr3t/);
});

test('a missing, unreadable or empty token file stops start-up with one line naming the variable and the path', () => {
  const missing = path.join(tmpdir(), 'harvester-no-such-dir', 'putio.token');
  const err = configError(() => load({ DOWNLOAD_CLIENT: 'putio', PUTIO_TOKEN_FILE: missing }));
  assert.equal(err.message, `PUTIO_TOKEN_FILE: cannot read ${JSON.stringify(missing)} (no such file)`);
  assert.doesNotMatch(err.message, /\n/);
  const folder = path.dirname(secretFile('x'));
  assert.match(configError(() => load({ HTTP_TOKEN_FILE: folder })).message, /^HTTP_TOKEN_FILE: cannot read ".*" \(it is a folder\)$/);
  const empty = secretFile('\n');
  assert.equal(configError(() => load({ HTTP_TOKEN_FILE: empty })).message, `HTTP_TOKEN_FILE: ${JSON.stringify(empty)} is empty`);
  // A blank _FILE (`PUTIO_TOKEN_FILE=` in a compose file) means unset, like every other variable.
  assert.equal(load({ PUTIO_TOKEN_FILE: '  ', HTTP_TOKEN: 'h' }).http.token, 'h');
});

test('an unreadable token file names the uid that could not read it', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, () => {
  const file = secretFile('t', 0o000);
  assert.match(configError(() => load({ HTTP_TOKEN_FILE: file })).message, /^HTTP_TOKEN_FILE: cannot read ".*" \(permission denied for uid \d+\)$/);
});

test('SEED_RATIO without TARGET_LABEL on a torrent client warns that every torrent there would be removed', () => {
  const client = { DOWNLOAD_CLIENT: 'qbittorrent', CLIENT_URL: 'http://box:8080' };
  assert.match(load({ ...client, SEED_RATIO: '1' }).warnings.join('\n'), /SEED_RATIO is set and TARGET_LABEL is empty/);
  assert.deepEqual(load({ ...client, SEED_RATIO: '1', TARGET_LABEL: 'sonarr' }).warnings, []);
  assert.deepEqual(load(client).warnings, [], 'no SEED_RATIO: nothing is ever removed');
});

// The *arr webhook's parsing and token check, on the bodies Sonarr and Lidarr
// send (test/fakes/arr-webhooks.ts, from their sources).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { hashOfDownloadId, parseArrWebhook, WebhookToken } from '../../src/http/arr-webhook';
import { lidarrDownloadBody, sonarrDownloadBody, sonarrTestBody } from '../fakes/arr-webhooks';

const HASH = '0a1b2c3d4e5f60718293a4b5c6d7e8f901234567';
const TOKEN = 'arr-hook-token-8c1f2e3d4b5a6978';

test("Sonarr's On File Import body is an import of its downloadId; an upgrade too", () => {
  assert.deepEqual(parseArrWebhook(JSON.parse(sonarrDownloadBody(HASH.toUpperCase()))), {
    kind: 'import', app: 'sonarr', eventType: 'Download', downloadId: HASH.toUpperCase(), upgrade: false,
  });
  const upgrade = parseArrWebhook(JSON.parse(sonarrDownloadBody(HASH.toUpperCase(), { isUpgrade: true })));
  assert.equal(upgrade.kind === 'import' && upgrade.upgrade, true);
  assert.equal(hashOfDownloadId(HASH.toUpperCase()), HASH, 'the upper-cased hashString is our hash');
  const lidarr = parseArrWebhook(JSON.parse(lidarrDownloadBody(HASH.toUpperCase())));
  assert.deepEqual(lidarr.kind === 'import' && [lidarr.app, lidarr.downloadId], ['lidarr', HASH.toUpperCase()]);
});

test('Test (the button in Settings > Connect) is recognized; other events and imports without a downloadId are nothing to do', () => {
  assert.deepEqual(parseArrWebhook(JSON.parse(sonarrTestBody())), { kind: 'test', app: 'sonarr', eventType: 'Test' });
  assert.deepEqual(parseArrWebhook({ eventType: 'Grab', movie: {}, downloadId: HASH }), { kind: 'other', app: 'radarr', eventType: 'Grab' });
  assert.deepEqual(parseArrWebhook({ eventType: 'download', author: {} }), { kind: 'import', app: 'readarr', eventType: 'download', downloadId: null, upgrade: false });
  assert.equal(hashOfDownloadId('SABnzbd_nzo_abc123'), undefined, "another client's id is never looked up as a hash");
});

test('a body that is not an *arr webhook is invalid, with a reason', () => {
  for (const body of [null, 42, 'Download', [], {}, { eventType: '' }, { eventType: 3 }]) {
    const parsed = parseArrWebhook(body);
    assert.equal(parsed.kind, 'invalid', JSON.stringify(body));
  }
});

const req = (headers: Record<string, string>): IncomingMessage => ({ headers } as unknown as IncomingMessage);
const url = (query = '') => new URL(`http://harvester:9092/hooks/arr${query}`);
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'latin1').toString('base64')}`;

test('the token is taken from ?token=, X-Harvester-Token, or the Basic password of the webhook form', () => {
  const check = new WebhookToken(TOKEN);
  assert.equal(check.allows(req({}), url(`?token=${TOKEN}`)), true);
  assert.equal(check.allows(req({ 'x-harvester-token': TOKEN }), url()), true);
  assert.equal(check.allows(req({ authorization: basic('sonarr', TOKEN) }), url()), true, 'any user name');
  assert.equal(check.allows(req({ authorization: basic('', TOKEN) }), url()), true, 'an empty user name (only the password filled)');
  assert.equal(check.allows(req({ authorization: `Bearer ${TOKEN}` }), url()), true);
  // A wrong one beside the right one still lets the right one count (a stale header left in the form).
  assert.equal(check.allows(req({ 'x-harvester-token': 'old' }), url(`?token=${TOKEN}`)), true);
});

test('no token, a wrong one, or one that only shares a prefix is refused', () => {
  const check = new WebhookToken(TOKEN);
  assert.equal(check.allows(req({}), url()), false);
  assert.equal(check.allows(req({}), url('?token=')), false);
  assert.equal(check.allows(req({}), url(`?token=${TOKEN.slice(0, -1)}`)), false);
  assert.equal(check.allows(req({ 'x-harvester-token': `${TOKEN}x` }), url()), false);
  assert.equal(check.allows(req({ authorization: basic(TOKEN, 'wrong') }), url()), false, 'the token as the user name is not the password');
  assert.equal(check.allows(req({ authorization: 'Basic !!!' }), url()), false);
  assert.throws(() => new WebhookToken(''), TypeError);
});

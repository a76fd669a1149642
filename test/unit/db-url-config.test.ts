// DB_URL (issue 17): a postgres:// URL selects the PostgreSQL store; a bad one
// is one line naming the variable, never quoting it; its password is a secret
// that describeConfig masks and secretValues names for redaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeConfig, SECRET_VARIABLES, secretValues } from '../../src/transfers/config';
import { shownUrl } from '../../src/transfers/store/postgres-open';
import { configError, load } from '../helpers/config';

test('DB_URL unset: SQLite at DB_PATH; set: the PostgreSQL URL, sslmode and all', () => {
  assert.equal(load({}).dbUrl, null);
  const url = 'postgres://harvester:s3cr%40t@db.lan:5433/harvester?sslmode=verify-full';
  assert.equal(load({ DB_URL: url }).dbUrl, url);
  assert.equal(load({ DB_URL: 'postgresql://h@db/h' }).dbUrl, 'postgresql://h@db/h');
});

test('a DB_URL that is no PostgreSQL URL stops start-up with a line naming DB_URL, never its value', () => {
  for (const [value, why] of [
    ['mysql://root:pw-one@db/h', /must be a postgres:\/\/ URL/],
    ['postgres://u:pw-two@:5432/h', /is not a URL|needs a host/],
    ['postgres://u:pw-three@db', /needs a database name/],
    ['postgres://u:pw-four@db/h?sslmode=maybe', /unknown sslmode/],
    ['not a url pw-five', /is not a URL/],
  ] as const) {
    const err = configError(() => load({ DB_URL: value }));
    assert.match(err.message, /DB_URL/);
    assert.match(err.message, why);
    assert.ok(!/pw-/.test(err.message), err.message);
  }
});

test("DB_URL's password never shows: masked by describeConfig, named for redaction, absent from messages", () => {
  const cfg = load({ DB_URL: 'postgres://harvester:s3cr%40t@db.lan/harvester' });
  assert.ok(SECRET_VARIABLES.includes('DB_URL' as never));
  const shown = String(describeConfig(cfg).DB_URL);
  assert.ok(!shown.includes('s3cr'), shown);
  assert.match(shown, /^postgres:\/\/\*\*\*@db\.lan\/harvester$/);
  const secrets = secretValues(cfg);
  assert.ok(secrets.includes('s3cr@t') && secrets.includes('s3cr%40t'), 'the password, decoded and as written');
  assert.ok(!secrets.includes('harvester'), 'the user name is not redacted (it would mangle every line saying harvester)');
  assert.equal(shownUrl('postgres://harvester:s3cr%40t@db.lan:5433/harvester?sslmode=require&password=x'), 'postgres://harvester@db.lan:5433/harvester');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerIdentity, IdentityError } from '../../src/container/identity';

test('the image runs as 1000:1000 with UMASK 002 unless PUID, PGID and UMASK say otherwise', () => {
  assert.deepEqual(containerIdentity({}), { uid: 1000, gid: 1000, umask: 0o002 });
  assert.deepEqual(containerIdentity({ PUID: '99', PGID: '100', UMASK: '022' }), { uid: 99, gid: 100, umask: 0o022 });
  // `PUID=` in a compose file means the default, like every other variable.
  assert.deepEqual(containerIdentity({ PUID: ' ', UMASK: '' }), { uid: 1000, gid: 1000, umask: 0o002 });
});

test('PUID=0 (root), a name instead of a number, or a bad UMASK stop the container with one line naming the variable', () => {
  const fails = (env: NodeJS.ProcessEnv, pattern: RegExp) =>
    assert.throws(() => containerIdentity(env), (err: unknown) => err instanceof IdentityError && pattern.test(err.message) && !/\n/.test(err.message));
  fails({ PUID: '0' }, /^PUID: 0 would run harvester as root/);
  fails({ PGID: '0' }, /^PGID: 0 would run harvester as root/);
  fails({ PUID: 'abc' }, /^PUID: "abc" is not a user or group id/);
  fails({ PGID: '-1' }, /^PGID: "-1" is not a user or group id/);
  fails({ UMASK: '999' }, /^UMASK: "999" is not an octal umask/);
});

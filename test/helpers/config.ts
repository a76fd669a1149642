// Loading the daemon's configuration in unit tests: from a fixed working
// folder, and the ConfigError a bad environment must end in.
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/transfers/config';

/** The folder relative paths resolve from in config tests. */
export const CONFIG_CWD = '/srv/harvester';

export const load = (env: Record<string, string>) => loadConfig(env, { cwd: CONFIG_CWD });

/** The ConfigError `fn` throws; fails the test when it throws nothing or something else. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

// Reading the configuration: the environment (with secrets from files) through
// the schema, every issue as ONE ConfigError line naming each variable at
// fault, then the defaults that depend on other variables (settle.ts).
import type { Config } from './types';
import { withFileValues } from './files';
import { envSchema } from './schema';
import { settle } from './settle';
import { toError } from './problems';

/** `EXCLUDE=` means "exclude nothing" (the default off), not "unset" (the default). */
const EMPTY_IS_A_VALUE = new Set(['EXCLUDE']);

/**
 * The configuration from `env` (process.env by default). Relative paths resolve against `cwd`.
 * Throws a ConfigError (one line, every bad variable named, no secret quoted) on any bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  opts: { cwd?: string } = {},
): Config {
  const input: Record<string, string | undefined> = {};
  const resolved = withFileValues(env);
  for (const key of Object.keys(envSchema.shape)) {
    const value = resolved[key];
    // `FOO=` in a compose file means "unset", not "the empty string"; except where empty is a value of its own.
    input[key] = typeof value === 'string' && (value.trim() !== '' || EMPTY_IS_A_VALUE.has(key)) ? value : undefined;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? 'config'), problem: i.message }));
    throw toError(problems);
  }
  return settle(parsed.data, opts.cwd ?? process.cwd());
}

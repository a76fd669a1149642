// The daemon's configuration, read once from the environment (DESIGN.md
// "Configuration": the original's names first, then ours).
//
// zod gives the shape: one schema per variable turns its text into a typed
// value or an issue; the issues become ONE ConfigError line naming every
// variable at fault. Defaults that depend on other variables (POLLING_INTERVAL
// by client, WEB_BIND_ADDRESS by credentials, the seed ratio precedence) are
// settled after parsing, in `settle`.
//
// Secrets (tokens, passwords, API keys, webhook URLs, credentials inside a
// URL) are never quoted in an error, and `describeConfig` masks them.
//
// This file is the entry importers use; each part lives in config/ with one job:
//   types.ts     the Config and its parts; LOG_LEVELS, SECRET_VARIABLES, FILE_VARIABLES
//   fields.ts    the zod field parsers (a duration, a ratio, a URL, a bind address...)
//   schema.ts    envSchema: each variable and its field parser
//   files.ts     secrets from `<NAME>_FILE` (withFileValues)
//   settle.ts    the defaults that depend on other variables, and the rules tying them
//   problems.ts  many problems as one ConfigError
//   load.ts      loadConfig: the environment through all of the above
//   describe.ts  the configuration without its secrets (describeConfig, maskUrl, secretValues)
//   bind.ts      `host:port` bind addresses, parsed and written back
export { ConfigError } from './config-error';
export { LOG_LEVELS, SECRET_VARIABLES, FILE_VARIABLES, type LogLevel, type BindAddress, type ArrConfig, type Config } from './config/types';
export { withFileValues } from './config/files';
export { loadConfig } from './config/load';
export { parseBindAddress, formatBindAddress } from './config/bind';
export { maskUrl, describeConfig, secretValues } from './config/describe';

// Which better-sqlite3 this Node loads.
//
// 12.x (built from source at install, on Node's own C++ ObjectWrap) aborts the
// process on Node 24.19 and later whenever a GC running outside JavaScript
// (an idle GC, the teardown at exit) collects one of its statements:
// `RemoveEnvironmentCleanupHook: Assertion (env) != nullptr`. A daemon on
// Node 24 would die at random hours after a write, and every exit is an abort.
// 13.x is built on Node-API 10 and ships its binaries in the package: no abort,
// no compiler at install. But no Node 20 has Node-API 10 (13.x segfaults there),
// so each Node gets the newest one it can run: 13.x where Node-API >= 10
// (Node 22.14+), 12.x on Node 20. Both have the same API.
import type BetterSqlite3 from 'better-sqlite3';

/** Node-API version of this Node ('9' on Node 20, '10' from Node 22.14). */
export const NAPI_VERSION = Number(process.versions.napi ?? 0);
export const DRIVER = NAPI_VERSION >= 10 ? 'better-sqlite3@13' : 'better-sqlite3@12';

// The package name is chosen at run time, so this one place requires it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database = require(NAPI_VERSION >= 10 ? 'better-sqlite3-napi' : 'better-sqlite3') as typeof BetterSqlite3;
// eslint-disable-next-line @typescript-eslint/no-namespace -- the value and its types under one name, as better-sqlite3's own typings do
declare namespace Database {
  type Database = BetterSqlite3.Database;
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- better-sqlite3's own constraint, repeated
  type Statement<P extends unknown[] | {} = unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;
  type Options = BetterSqlite3.Options;
}
export default Database;

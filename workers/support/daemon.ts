// What every daemon loop opens in its own thread: the configuration (from the
// environment the worker shares with the supervisor), its own store connection,
// and the download client. Closed through ctx.defer, so it closes on every exit path.
import type { LoopContext } from '../../src/loop';
import { loadConfig, type Config } from '../../src/transfers/config';
import { createClient } from '../../src/transfers/clients/create';
import type { DownloadClient } from '../../src/transfers/clients/types';
import { clearAlert } from '../../src/transfers/alerts';
import { openStore } from '../../src/transfers/store/open';
import { claimOwner } from '../../src/transfers/replica';
import { isStoreUnavailable } from '../../src/transfers/store/errors';
import type { Config as DaemonConfig } from '../../src/transfers/config';
import type { Store } from '../../src/transfers/store/store';

export interface Daemon {
  config: Config;
  store: Store;
  client: DownloadClient;
  /** Claim owner `<replica>:<loop>`: one worker per loop, so a restarted loop may take its predecessor's claims back (and only its own). */
  owner: string;
}

export async function openDaemon(ctx: LoopContext<unknown>): Promise<Daemon> {
  const config = loadConfig(process.env);
  // Its own connection (SQLite) or pool (PostgreSQL), closed when the loop stops; the main thread migrated the schema.
  const store = await openWhenReachable(ctx, config);
  ctx.defer(() => store.close());
  const owner = claimOwner(ctx.name);
  // The previous incarnation of this loop is dead (it is restarted only after its worker exited).
  const released = await store.releaseClaimsOf(owner);
  if (released > 0) ctx.log.info({ event: 'claims.taken-back', count: released }, `took back ${released} claim(s) of the previous ${ctx.name}`);
  const client = createClient(config);
  // A File Transport's connection is destroyed, never waited on: a hung seedbox must not hold the stop.
  if (client.close) ctx.defer(() => client.close!());
  const daemon: Daemon = { config, store, client, owner };
  runs.set(ctx, { daemon, working: false });
  return daemon;
}

/**
 * The loop's store, waiting (with backoff, until the loop is stopped) while PostgreSQL cannot be
 * reached: a database restarting under a running daemon must not exhaust the loop's restarts and
 * end the process. Anything else (a schema of another version) fails the setup as it is.
 */
async function openWhenReachable(ctx: LoopContext<unknown>, config: DaemonConfig) {
  for (let attempt = 0; ; attempt++) {
    try {
      const store = await openStore(config, { migrate: false, purpose: ctx.name, poolSize: 3 });
      if (attempt > 0) ctx.log.info({ event: 'store.available' }, 'the store can be reached again');
      return store;
    } catch (err) {
      if (!isStoreUnavailable(err) || ctx.signal.aborted) throw err;
      if (attempt === 0) ctx.log.warn({ event: 'store.unavailable', err: { message: err.message } }, `${err.message}: waiting for it`);
      await sleep(Math.min(500 * 2 ** attempt, 5_000), ctx.signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The daemon a loop run opened, and whether it was confirmed working, keyed by its ctx (the
 * runtime hands setup, every tick and teardown the same one; a restart is a new worker, a new ctx).
 */
const runs = new WeakMap<LoopContext<unknown>, { daemon: Daemon; working: boolean; storeDown?: boolean }>();

/**
 * The loop works again: an open alert.loop-gave-up about it (raised by the
 * main thread when an earlier process gave it up) is resolved, once per loop run (worker).
 * Called after a tick that ended without an error, or when a service is up.
 */
export async function confirmWorking(ctx: LoopContext<unknown>): Promise<void> {
  const run = runs.get(ctx);
  if (!run || run.working || ctx.signal.aborted) return;
  run.working = true;
  if (await clearAlert(run.daemon.store, 'alert.loop-gave-up', ctx.name)) {
    ctx.log.info({ event: 'loop.recovered' }, `${ctx.name} works again: its gave-up alert is resolved`);
  }
}

/**
 * A daemon loop's tick, followed by confirmWorking once it has ended without an error.
 * `state` is what the loop's setup returned (the runtime hands it to every tick).
 */
export function daemonTick<State = unknown>(
  tick: (ctx: LoopContext<unknown>, state: State) => Promise<void>,
): (ctx: LoopContext<unknown>, state: State) => Promise<void> {
  return async (ctx, state) => {
    const run = runs.get(ctx);
    try {
      await tick(ctx, state);
    } catch (err) {
      // The database is away (restarting, cut off): this tick goes by, the next one tries again.
      // Nothing was half done: every change is one transaction, and a claim held comes back by its lease.
      if (!isStoreUnavailable(err)) throw err;
      if (run && !run.storeDown) {
        run.storeDown = true;
        ctx.log.warn({ event: 'store.unavailable', err: { message: err.message } }, `${err.message}: ${ctx.name} waits for it`);
      }
      return;
    }
    if (run?.storeDown) {
      run.storeDown = false;
      ctx.log.info({ event: 'store.available' }, `the store can be reached again: ${ctx.name} resumes`);
    }
    await confirmWorking(ctx);
  };
}

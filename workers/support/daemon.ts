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
  const store = await openStore(config, { migrate: false, purpose: ctx.name, poolSize: 3 });
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
 * The daemon a loop run opened, and whether it was confirmed working, keyed by its ctx (the
 * runtime hands setup, every tick and teardown the same one; a restart is a new worker, a new ctx).
 */
const runs = new WeakMap<LoopContext<unknown>, { daemon: Daemon; working: boolean }>();

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
    await tick(ctx, state);
    await confirmWorking(ctx);
  };
}

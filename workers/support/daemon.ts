// What every daemon loop opens in its own thread: the configuration (from the
// environment the worker shares with the supervisor), its own store connection,
// and the download client. Closed through ctx.defer, so it closes on every exit path.
import type { LoopContext } from '../../src/loop';
import { loadConfig, type Config } from '../../src/transfers/config';
import { createClient } from '../../src/transfers/clients/create';
import type { DownloadClient } from '../../src/transfers/clients/types';
import { clearAlert } from '../../src/transfers/alerts';
import { SqliteStore } from '../../src/transfers/store/sqlite';
import type { Store } from '../../src/transfers/store/store';

export interface Daemon {
  config: Config;
  store: Store;
  client: DownloadClient;
  /** Claim owner `<pid>:<loop>`: one worker per loop, so a restarted loop may take its predecessor's claims back. */
  owner: string;
}

export async function openDaemon(ctx: LoopContext<unknown>): Promise<Daemon> {
  const config = loadConfig(process.env);
  const store = new SqliteStore(config.dbPath);
  ctx.defer(() => store.close());
  const owner = `${process.pid}:${ctx.name}`;
  // The previous incarnation of this loop is dead (it is restarted only after its worker exited).
  const released = await store.releaseClaimsOf(owner);
  if (released > 0) ctx.log.info({ event: 'claims.taken-back', count: released }, `took back ${released} claim(s) of the previous ${ctx.name}`);
  const client = createClient(config);
  // A File Transport's connection is destroyed, never waited on: a hung seedbox must not hold the stop.
  if (client.close) ctx.defer(() => client.close!());
  opened = { config, store, client, owner };
  return opened;
}

/** One loop per worker thread: the daemon this worker opened. */
let opened: Daemon | undefined;
let working = false;

/**
 * The loop works again: an open alert.loop-gave-up about it (raised by the
 * main thread when an earlier process gave it up) is resolved, once per worker.
 * Called after a tick that ended without an error, or when a service is up.
 */
export async function confirmWorking(ctx: LoopContext<unknown>): Promise<void> {
  if (working || !opened || ctx.signal.aborted) return;
  working = true;
  if (await clearAlert(opened.store, 'alert.loop-gave-up', ctx.name)) {
    ctx.log.info({ event: 'loop.recovered' }, `${ctx.name} works again: its gave-up alert is resolved`);
  }
}

/** A daemon loop's tick, followed by confirmWorking once it has ended without an error. */
export function daemonTick(tick: (ctx: LoopContext<unknown>) => Promise<void>): (ctx: LoopContext<unknown>) => Promise<void> {
  return async (ctx) => {
    await tick(ctx);
    await confirmWorking(ctx);
  };
}

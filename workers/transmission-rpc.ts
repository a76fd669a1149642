// transmission-rpc: the Transmission RPC endpoint Sonarr/Radarr use as their
// download client (DESIGN.md 3 and 5), a service (a loop without tick) in its
// own worker thread. The endpoint itself, with its bind retry, is
// src/transfers/transmission/endpoint.ts; this file wires it to the loop:
// setup starts it and returns it as the loop's state, the stop signal closes
// it (before the store it uses is closed), and teardown waits until its port is
// free for the next start. A bug in a handler crashes the service (the client
// gets a 500 first) and the supervisor restarts it like any loop, with a fresh
// session id.
import { defineLoop } from '../src/loop';
import { startEndpoint, type Endpoint } from '../src/transfers/transmission/endpoint';
import { confirmWorking, openDaemon } from './support/daemon';

function ownVersion(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export default defineLoop<Record<string, unknown>, Endpoint>({
  async setup(ctx) {
    const { config, store, client } = await openDaemon(ctx);
    const version = ownVersion();
    return startEndpoint(config, {
      store,
      client,
      log: ctx.log,
      signal: ctx.signal,
      firstStart: ctx.attempt === 1,
      ...(version ? { version } : {}),
      onListening: () => confirmWorking(ctx),
      // Leave the promise chain: an uncaught exception in this worker is a crash of the service.
      onCrash: (err) => process.nextTick(() => { throw err; }),
    });
  },
  // undefined when setup never finished: the stop signal closed what it had started.
  teardown: (_ctx, endpoint) => endpoint?.close(),
});

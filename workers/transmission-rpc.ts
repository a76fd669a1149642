// transmission-rpc: the Transmission RPC endpoint Sonarr/Radarr use as their
// download client (DESIGN.md 3 and 5), a service (a loop without tick) in its
// own worker thread. setup listens on WEB_BIND_ADDRESS, teardown closes the
// server and every connection, so the port is free for the next start. A bug
// in a handler crashes the service (the client gets a 500 first) and the
// supervisor restarts it like any loop, with a fresh session id.
//
// When the port is taken (another Transmission, a second harvester), the
// service does not crash-loop the whole daemon: it says so once and tries
// again in the background, with backoff.
import type { Server } from 'node:http';
import { defineLoop } from '../src/loop';
import { formatBindAddress } from '../src/transfers/config';
import { ensureCategoryFolders, folderOptions } from '../src/transfers/folders';
import { newSessionId, type Credentials } from '../src/transfers/transmission/auth';
import { createRpcServer } from '../src/transfers/transmission/http';
import { RpcState, sampleRates, type RpcContext } from '../src/transfers/transmission/methods';
import { confirmWorking, openDaemon } from './support/daemon';

let server: Server | undefined;
let state: RpcState | undefined;
let sampler: NodeJS.Timeout | undefined;
let retry: NodeJS.Timeout | undefined;
let stopping = false;

const SAMPLE_EVERY_MS = 2_000;
const RETRY_MAX_MS = 30_000;

function ownVersion(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../package.json') as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export default defineLoop({
  async setup(ctx) {
    stopping = false;
    const { config, store, client } = await openDaemon(ctx);
    const bind = config.transmission.bind;
    const address = formatBindAddress(bind);
    const { username, password } = config.transmission;
    const credentials: Credentials | null = username !== null && password !== null ? { username, password } : null;
    if (ctx.attempt === 1) {
      // One line, at the first start only: how the endpoint is protected.
      const open = config.warnings.find((w) => w.startsWith('WEB_BIND_ADDRESS'));
      if (open) ctx.log.warn({ event: 'transmission.open', address }, open);
      else if (!credentials) {
        ctx.log.warn(
          { event: 'transmission.loopback-only', address },
          `TRANSMISSION_USERNAME/TRANSMISSION_PASSWORD are not set: the Transmission endpoint listens on ${address} only`,
        );
      }
    }
    // Sonarr/Radarr's health check wants download-dir/<category> at once, also after a restart.
    const folders = folderOptions(config);
    await ensureCategoryFolders(store, config.downloadDir, folders, ctx.log);
    state = new RpcState();
    const rpc: RpcContext = {
      store,
      client,
      config: {
        downloadDir: config.downloadDir,
        seedRatio: config.seedRatio,
        maxParallel: config.maxParallel,
        maxDownloadRateBytesPerSec: config.maxDownloadRateBytesPerSec,
        folders,
        stallTimeoutMs: config.stallTimeoutMs,
      },
      log: ctx.log,
      sessionId: newSessionId(),
      state,
      ...(ownVersion() ? { version: ownVersion()! } : {}),
    };
    const srv = createRpcServer({
      ctx: rpc,
      credentials,
      log: ctx.log,
      // Leave the promise chain: an uncaught exception in this worker is a crash of the service.
      onCrash: (err) => process.nextTick(() => { throw err; }),
    });
    server = srv;
    // LIFO: runs before the store (opened first) is closed.
    ctx.defer(() => close(srv));

    const listen = (): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        srv.once('error', onError);
        srv.listen(bind.port, bind.host, () => {
          srv.off('error', onError);
          resolve();
        });
      });
    const listening = (): void => {
      const actual = srv.address();
      const port = typeof actual === 'object' && actual ? actual.port : bind.port;
      ctx.log.info(
        { event: 'transmission.listening', address: formatBindAddress({ host: bind.host, port }), auth: credentials !== null },
        `Transmission endpoint on http://${formatBindAddress({ host: bind.host, port })}/transmission/rpc`,
      );
    };
    let delay = 1_000;
    const attempt = async (first: boolean): Promise<void> => {
      try {
        await listen();
        listening();
        await confirmWorking(ctx);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw err;
        if (first) {
          ctx.log.error(
            { event: 'transmission.bind-failed', address, code },
            `cannot listen on ${address} (${code}): is another Transmission or harvester running? Set WEB_BIND_ADDRESS; retrying in the background`,
          );
        } else {
          ctx.log.debug({ event: 'transmission.bind-retry', address, code }, 'still cannot listen');
        }
        if (stopping) return;
        retry = setTimeout(() => {
          retry = undefined;
          attempt(false).catch((e: unknown) => process.nextTick(() => { throw e; }));
        }, delay);
        retry.unref();
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    };
    await attempt(true);

    const rpcCtx = rpc;
    sampler = setInterval(() => {
      sampleRates(rpcCtx).catch((err: unknown) => ctx.log.warn({ event: 'transmission.sample-failed', err }, 'could not read download progress'));
    }, SAMPLE_EVERY_MS);
    sampler.unref();
  },
});

async function close(srv: Server): Promise<void> {
  stopping = true;
  if (retry) clearTimeout(retry);
  retry = undefined;
  if (sampler) clearInterval(sampler);
  sampler = undefined;
  state?.dispose();
  await new Promise<void>((resolve) => {
    if (!srv.listening) return resolve();
    srv.close(() => resolve());
    // Keep-alive and in-flight connections too: the port must be free, and no handle left behind.
    srv.closeAllConnections();
  });
  // The listening handle is released in libuv's close phase, after the callback above: let it pass,
  // so that nothing of this service is left when the worker checks for open handles.
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  if (server === srv) server = undefined;
}

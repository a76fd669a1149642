// The Transmission endpoint Sonarr/Radarr use as their download client
// (DESIGN.md 3 and 5), started and stopped as one thing: the RPC context over
// the store and the download client, the HTTP server on WEB_BIND_ADDRESS, and
// the background sampling of download rates. workers/transmission-rpc.ts only
// wires it to its loop: setup starts it, teardown waits for its close.
//
// When the port is taken (another Transmission, a second harvester), the
// endpoint does not crash-loop the whole daemon: it says so once and tries
// again in the background, with backoff (bind-retry.ts), until it binds or closes.
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { DownloadClient } from '../clients/types';
import { formatBindAddress, type BindAddress, type Config } from '../config';
import { ensureCategoryFolders, folderOptions } from '../folders';
import type { Store } from '../store/store';
import { newSessionId, type Credentials } from './auth';
import { BIND_RETRY_FIRST_MS, nextBindRetryMs, retryableBindCode } from './bind-retry';
import { createRpcServer } from './http';
import { RpcState, sampleRates, type RpcContext } from './methods';

/** How often download progress is sampled, so rateDownload and eta are known on the first torrent-get. */
const SAMPLE_EVERY_MS = 2_000;

export type EndpointConfig = Pick<
  Config,
  'transmission' | 'warnings' | 'downloadDir' | 'seedRatio' | 'maxParallel' | 'maxDownloadRateBytesPerSec' | 'stallTimeoutMs' | 'umask' | 'puid' | 'pgid'
>;

export interface EndpointDeps {
  store: Store;
  client: DownloadClient;
  log: Logger;
  /** The service's stop: when it aborts, the endpoint stops accepting at once (before the store is closed). */
  signal?: AbortSignal;
  /** The first start of the service, not a restart: how the endpoint is protected is said then only. */
  firstStart: boolean;
  /** harvester's own version, shown in session-get's `version`. */
  version?: string;
  /** Called once the port is bound (the worker resolves its gave-up alert there). An error in it is a crash. */
  onListening?(): Promise<void>;
  /** A bug (in a request handler, or in a background bind retry): the caller crashes the service with it. */
  onCrash(err: Error): void;
}

export interface Endpoint {
  /** Stop retrying and sampling, close the server and every connection. The port is free when it resolves. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start the endpoint. Resolves after the first attempt to bind, bound or not (a port that is
 * taken is retried in the background); rejects, closed, when binding failed for another reason.
 */
export async function startEndpoint(config: EndpointConfig, deps: EndpointDeps): Promise<Endpoint> {
  const { log } = deps;
  const bind = config.transmission.bind;
  const address = formatBindAddress(bind);
  const { username, password } = config.transmission;
  const credentials: Credentials | null = username !== null && password !== null ? { username, password } : null;
  if (deps.firstStart) {
    // One line, at the first start only: how the endpoint is protected.
    const open = config.warnings.find((w) => w.startsWith('WEB_BIND_ADDRESS'));
    if (open) log.warn({ event: 'transmission.open', address }, open);
    else if (!credentials) {
      log.warn(
        { event: 'transmission.loopback-only', address },
        `TRANSMISSION_USERNAME/TRANSMISSION_PASSWORD are not set: the Transmission endpoint listens on ${address} only`,
      );
    }
  }
  // Sonarr/Radarr's health check wants download-dir/<category> at once, also after a restart.
  const folders = folderOptions(config);
  await ensureCategoryFolders(deps.store, config.downloadDir, folders, log);
  const state = new RpcState();
  const rpc: RpcContext = {
    store: deps.store,
    client: deps.client,
    config: {
      downloadDir: config.downloadDir,
      seedRatio: config.seedRatio,
      maxParallel: config.maxParallel,
      maxDownloadRateBytesPerSec: config.maxDownloadRateBytesPerSec,
      folders,
      stallTimeoutMs: config.stallTimeoutMs,
    },
    log,
    sessionId: newSessionId(),
    state,
    ...(deps.version ? { version: deps.version } : {}),
  };
  const server = createRpcServer({ ctx: rpc, credentials, log, onCrash: deps.onCrash });

  let stopping = false;
  let retry: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      stopping = true;
      clearTimeout(retry);
      retry = undefined;
      clearInterval(sampler);
      sampler = undefined;
      state.dispose();
      await closeServer(server);
    })());
  deps.signal?.addEventListener('abort', () => void close(), { once: true });
  if (deps.signal?.aborted) void close();

  let delay = BIND_RETRY_FIRST_MS;
  const attempt = async (first: boolean): Promise<void> => {
    try {
      await listen(server, bind);
      // Closed while listen() was under way: let go of the port again.
      if (stopping) return await closeServer(server);
      const actual = server.address();
      const shown = formatBindAddress({ host: bind.host, port: typeof actual === 'object' && actual ? actual.port : bind.port });
      log.info(
        { event: 'transmission.listening', address: shown, auth: credentials !== null },
        `Transmission endpoint on http://${shown}/transmission/rpc`,
      );
      await deps.onListening?.();
    } catch (err) {
      const code = retryableBindCode(err);
      if (code === null) throw err;
      if (first) {
        log.error(
          { event: 'transmission.bind-failed', address, code },
          `cannot listen on ${address} (${code}): is another Transmission or harvester running? Set WEB_BIND_ADDRESS; retrying in the background`,
        );
      } else {
        log.debug({ event: 'transmission.bind-retry', address, code }, 'still cannot listen');
      }
      if (stopping) return;
      retry = setTimeout(() => {
        retry = undefined;
        attempt(false).catch((e: unknown) => deps.onCrash(e instanceof Error ? e : new Error(String(e))));
      }, delay);
      retry.unref();
      delay = nextBindRetryMs(delay);
    }
  };
  if (!stopping) {
    try {
      await attempt(true);
    } catch (err) {
      await close();
      throw err;
    }
  }

  if (!stopping) {
    sampler = setInterval(() => {
      sampleRates(rpc).catch((err: unknown) => log.warn({ event: 'transmission.sample-failed', err }, 'could not read download progress'));
    }, SAMPLE_EVERY_MS);
    sampler.unref();
  }
  return { close };
}

function listen(server: Server, bind: BindAddress): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(bind.port, bind.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // Keep-alive and in-flight connections too: the port must be free, and no handle left behind.
    server.closeAllConnections();
  });
  // The listening handle is released in libuv's close phase, after the callback above: let it pass,
  // so that nothing of this service is left when the worker checks for open handles.
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
}

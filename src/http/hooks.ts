// Wiring the ops server into the process (runAsProcess hooks): it starts as
// soon as the supervisor exists, so /healthz and /readyz answer during
// start-up too, and closes after the supervisor stopped. For the daemon it is
// always on (HTTP_BIND, default 127.0.0.1:9092); for `harvester run --config`
// only when HTTP_BIND is set. An address that cannot be bound is logged and the
// loops run on: the ops server is how people watch the work, not the work.
import type { Logger } from 'pino';
import type { ProcessHooks } from '../supervisor/process';
import type { Supervisor } from '../supervisor/supervisor';
import { loadConfig, parseBindAddress, secretValues, type BindAddress } from '../transfers/config';
import { openStore } from '../transfers/store/open';
import { claimOwner, LEADER_LOOPS, replicaId } from '../transfers/replica';
import type { ReplicasView } from '../transfers/store/replicas';
import { OpsStats } from '../transfers/store/ops-stats';
import { startOpsServer, type OpsServer, type OpsServerOptions } from './server';

export const DEFAULT_HTTP_BIND: BindAddress = { host: '127.0.0.1', port: 9092 };

export interface OpsHooksOptions {
  logger: Logger;
  version: string;
  /** true: the daemon's own loops (store, config from the environment); false: `run --config`. */
  daemon: boolean;
  env?: NodeJS.ProcessEnv;
}

export function opsHooks(o: OpsHooksOptions): ProcessHooks & { server(): OpsServer | undefined } {
  const env = o.env ?? process.env;
  let server: OpsServer | undefined;
  const closers: Array<() => unknown> = [];
  return {
    server: () => server,
    async beforeStart(sup: Supervisor) {
      let options: Omit<OpsServerOptions, 'supervisor'> | undefined;
      try {
        options = await resolve(o, env, closers);
      } catch (err) {
        o.logger.error({ event: 'http.unavailable', err }, `no ops server: ${(err as Error).message}`);
        await closeAll(closers);
        return;
      }
      if (!options) return;
      try {
        server = await startOpsServer({ ...options, supervisor: sup });
      } catch (err) {
        const where = `${options.bind.host}:${options.bind.port}`;
        o.logger.error({ event: 'http.unavailable', address: where, err },
          `ops server could not listen on ${where} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ` +
          'harvester status, the status page, /metrics and the health checks are unavailable; set HTTP_BIND to a free address');
        await closeAll(closers);
      }
    },
    async beforeExit() {
      await server?.close();
      await closeAll(closers);
    },
  };
}

async function resolve(o: OpsHooksOptions, env: NodeJS.ProcessEnv, closers: Array<() => unknown>): Promise<Omit<OpsServerOptions, 'supervisor'> | undefined> {
  if (!o.daemon) {
    if (!env.HTTP_BIND) return undefined;
    const bind = parseBindAddress(env.HTTP_BIND.trim());
    if (!bind) {
      o.logger.error({ event: 'http.unavailable', variable: 'HTTP_BIND' }, 'HTTP_BIND is not an address (use host:port): no ops server');
      return undefined;
    }
    const token = env.HTTP_TOKEN || null;
    return { logger: o.logger, version: o.version, bind, token, secrets: token ? [token] : [] };
  }
  // The daemon validated the same environment moments ago (daemonOptions); the store is migrated.
  const config = loadConfig(env);
  // Reads never wait in WAL; the webhook's one write must not hold the main thread long behind a loop's.
  const store = await openStore(config, { migrate: false, busyTimeoutMs: 1000, purpose: 'ops-server', poolSize: 2 });
  closers.push(() => store.close());
  let outbox: OpsStats | undefined;
  // The outbox counts read the SQLite file directly (a synchronous source); on PostgreSQL /metrics goes without them.
  if (!config.dbUrl) {
    try {
      outbox = new OpsStats(config.dbPath);
      closers.push(() => outbox!.close());
    } catch (err) {
      o.logger.warn({ event: 'http.outbox-unavailable', err }, 'notification metrics unavailable');
    }
  }
  return {
    logger: o.logger, version: o.version, bind: config.http.bind, token: config.http.token,
    store, outbox, secrets: secretValues(config), maxAttempts: config.maxAttempts,
    ...(config.arrWebhookToken ? { arrWebhook: { token: config.arrWebhookToken, store, owner: claimOwner('ops-server') } } : {}),
    replicas: async (): Promise<ReplicasView> => (store.kind === 'postgres'
      ? { store: 'postgres', self: replicaId(), replicas: await store.replicas() }
      // SQLite: this process is the one replica and leads every loop.
      : { store: 'sqlite', self: replicaId(), replicas: [{ replica: replicaId(), leases: [...LEADER_LOOPS].sort() }] }),
    seedRatio: config.seedRatio, downloadDir: config.downloadDir, client: config.downloadClient, label: config.targetLabel,
  };
}

async function closeAll(closers: Array<() => unknown>): Promise<void> {
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch {
      // closing a read connection cannot lose anything
    }
  }
}

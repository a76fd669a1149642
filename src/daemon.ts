// The daemon's own loops (what `npm start` runs), built from the environment.
// Before any thread starts, the main thread opens the store once: the schema is
// migrated, a damaged or newer database stops start-up with one line, and the
// claims of an earlier process are taken back.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadConfig, ConfigError, SECRET_VARIABLES, type Config } from './transfers/config';
import { openStore, type AnyStore } from './transfers/store/open';
import { StoreError, StoreUnavailableError } from './transfers/store/errors';
import { replicaId } from './transfers/replica';
import { StartupError } from './supervisor/errors';
import type { LoopSpec, SupervisorOptions } from './supervisor/options';
import type { SupervisorEvent } from './supervisor/events';
import { raiseAlert } from './transfers/alerts';
import { configuredArrs } from './transfers/arr';
import { createClient } from './transfers/clients/create';
import { sourceTraits } from './transfers/sources/traits';
import { isClientError } from './transfers/clients/errors';
import { loadCredentials, loadHostKeyPolicy } from './transfers/transports/sftp-settings';
import { formatSeedboxUrl } from './transfers/transports/url';
import { createLogger } from './log';

export const WORKERS_DIR = resolve(__dirname, '../workers');

/** The daemon's secrets wherever a log line carries its configuration (`config.PUTIO_TOKEN`...), beside the generic paths. */
export const DAEMON_REDACT_PATHS: string[] = SECRET_VARIABLES.map((name) => `config.${name}`);

/** Loops that only read the store look for work every second (DESIGN.md 5). */
const STORE_POLL_MS = 1000;

/**
 * PostgreSQL (several replicas): how often a standby tries the leader lease of a loop that runs once
 * across replicas, so it takes over within this long after the leader died.
 */
export const LEADER_CHECK_MS = 5_000;

/**
 * A loop that runs once across replicas (workers/support/leader.ts). With SQLite (one replica) its spec
 * is as it always was; with PostgreSQL it ticks at least every LEADER_CHECK_MS to watch the lease, and its
 * step keeps its own pace through `leaderEveryMs`.
 */
function leaderLoop(config: Config, name: string, module: string, intervalMs: number): LoopSpec {
  if (!config.dbUrl || intervalMs <= LEADER_CHECK_MS) return { name, module, intervalMs };
  return { name, module, intervalMs: LEADER_CHECK_MS, options: { leaderEveryMs: intervalMs } };
}

export function daemonLoops(config: Config): LoopSpec[] {
  const worker = (name: string): string => resolve(WORKERS_DIR, `${name}.js`);
  const hasArr = configuredArrs(config).length > 0;
  return [
    leaderLoop(config, 'produce-transfers', worker('produce-transfers'), config.pollingIntervalMs),
    { name: 'download', module: worker('download'), intervalMs: STORE_POLL_MS },
    { name: 'watch-imported', module: worker('watch-imported'), intervalMs: hasArr ? config.pollingIntervalMs : STORE_POLL_MS },
    leaderLoop(config, 'watch-seeding', worker('watch-seeding'), Math.min(config.pollingIntervalMs, 60_000)),
    leaderLoop(config, 'notify', worker('notify'), STORE_POLL_MS),
    // Due copies are looked for every second (a store read); CLEANUP_INTERVAL paces the pruning.
    { name: 'cleanup', module: worker('cleanup'), intervalMs: Math.min(config.cleanupIntervalMs, STORE_POLL_MS) },
    // A service (no tick): the Transmission endpoint for Sonarr/Radarr on WEB_BIND_ADDRESS.
    { name: 'transmission-rpc', module: worker('transmission-rpc') },
  ];
}

export async function daemonOptions(env: NodeJS.ProcessEnv = process.env): Promise<SupervisorOptions> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(err.message, 'configuration');
    throw err;
  }
  for (const dir of [config.downloadDir, ...(config.dbUrl ? [] : [dirname(config.dbPath)]), ...(config.localSeedboxDir !== null && sourceTraits(config.downloadClient).seedboxIsLocalFolder ? [config.localSeedboxDir] : [])]) {
    mkdirSync(dir, { recursive: true });
  }
  warnPlainFtp(config);
  if (config.localSeedboxUrl || sourceTraits(config.downloadClient).usesClientUrl) await checkSeedboxAtStart(config);
  // Made before any thread starts, so that every loop's claims carry this process's replica id.
  replicaId(env);
  let store: AnyStore;
  try {
    store = await openStore(config, { migrate: true, purpose: 'start' });
  } catch (err) {
    // StoreError and unreachable-server messages already name DB_PATH / DB_URL (never its password).
    const variable = config.dbUrl ? 'DB_URL' : 'DB_PATH';
    const known = err instanceof StoreError || err instanceof StoreUnavailableError;
    throw new StartupError(known ? err.message : `${variable} ${config.dbUrl ? 'PostgreSQL' : config.dbPath}: ${(err as Error).message.split('\n')[0]}`, variable);
  }
  try {
    await store.releaseClaimsAtStart();
  } finally {
    await store.close();
  }
  return { loops: daemonLoops(config), logLevel: config.logLevel, onEvent: alertOnGiveUp(config), redact: DAEMON_REDACT_PATHS };
}

/** Plain FTP (FTP_INSECURE=1) is said at every start, in the log, not only by `harvester check`. */
function warnPlainFtp(config: Config): void {
  const lines = config.warnings.filter((w) => w.includes('(FTP_INSECURE=1)'));
  if (lines.length === 0) return;
  const log = createLogger({ redact: DAEMON_REDACT_PATHS });
  for (const message of lines) log.warn({ event: 'config.warning', variable: message.split(' ')[0] }, message);
}

/**
 * A seedbox reached over SFTP or FTPS, or a torrent client at CLIENT_URL, is tried once before
 * any thread starts: a key file that is missing or needs a passphrase, a refused login, an unknown or
 * changed host key (or TLS certificate), an unreachable host or a missing folder stop start-up
 * with one line (exit 1), instead of a loop that fails every poll.
 */
async function checkSeedboxAtStart(config: Config): Promise<void> {
  // A torrent client (CLIENT_URL) is tried the same way: a wrong password or a client that is not there is one line.
  const variable = config.localSeedboxUrl ? 'LOCAL_SEEDBOX_DIR' : 'CLIENT_URL';
  const shown = config.localSeedboxUrl ? formatSeedboxUrl(config.localSeedboxUrl) : `(${config.downloadClient})`;
  try {
    if (config.localSeedboxUrl?.scheme === 'sftp' || config.filesFrom.kind === 'sftp') {
      loadCredentials(config.sftp);
      loadHostKeyPolicy(config.sftp);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw new StartupError(err.message, err.variable);
    throw err;
  }
  let client: ReturnType<typeof createClient>;
  try {
    client = createClient(config);
  } catch (err) {
    throw new StartupError(`${variable} ${shown}: ${(err as Error).message.split('\n')[0]}`, variable);
  }
  try {
    await client.check?.(AbortSignal.timeout(30_000));
  } catch (err) {
    // Client errors name the host and never carry a secret (clients/errors.ts).
    const message = (err as Error).name === 'TimeoutError' && !isClientError(err) ? 'no answer within 30 s' : (err as Error).message.split('\n')[0];
    throw new StartupError(`${variable} ${shown}: ${message}`, variable);
  } finally {
    await client.close?.();
  }
}

/**
 * A loop given up ends the process (pm2/systemd start it again): the alert goes into
 * the outbox now, from the main thread, and is sent by `notify` once the daemon is back.
 */
function alertOnGiveUp(config: Config): (e: SupervisorEvent) => void {
  return (e) => {
    if (e.event !== 'loop.gave-up') return;
    // SQLite is synchronous underneath: the row is written before this returns. PostgreSQL's write
    // races the stop of the other loops, which takes longer than one INSERT.
    void openStore(config, { migrate: false, purpose: 'alert' })
      .then((store) => raiseAlert(store, 'alert.loop-gave-up', e.operation, `gave up after ${e.restarts} restarts in ${e.windowMs} ms`)
        .finally(() => store.close()))
      .catch(() => {});
  };
}

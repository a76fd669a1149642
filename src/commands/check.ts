// `harvester check`: validate the daemon's configuration, print it with every
// secret masked, and test each connection (seedbox, Sonarr/Radarr/Lidarr/Readarr). Exit code
// 0 when everything answered, 1 otherwise. Webhooks are not called: a test
// would post a message to a real channel.
import { ArrClient, configuredArrs } from '../transfers/arr';
import { createClient } from '../transfers/clients/create';
import { ConfigError, describeConfig, formatBindAddress, loadConfig, type Config } from '../transfers/config';
import { probeStore } from '../transfers/store/open';

export interface CheckLine {
  what: string;
  ok: boolean;
  detail: string;
}

export async function checkConnections(config: Config, timeoutMs = 15_000): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  const probe = async (what: string, fn: (signal: AbortSignal) => Promise<string>): Promise<void> => {
    try {
      lines.push({ what, ok: true, detail: await fn(AbortSignal.timeout(timeoutMs)) });
    } catch (err) {
      // Client errors never carry a token or a URL with credentials (clients/errors.ts).
      lines.push({ what, ok: false, detail: (err as Error).message.split('\n')[0]! });
    }
  };
  // The store first: which one (DB_URL: PostgreSQL, else SQLite at DB_PATH) and its schema version.
  await probe(`store (${config.dbUrl ? 'postgres' : 'sqlite'})`, () => probeStore(config, timeoutMs));
  const client = createClient(config);
  try {
    await probe(`seedbox (${config.downloadClient})`, async (signal) => (client.check ? client.check(signal) : 'reachable'));
  } finally {
    await client.close?.();
  }
  for (const arr of configuredArrs(config)) {
    await probe(arr.kind, (signal) => new ArrClient(arr).check(signal));
  }
  for (const [name, url] of [['discord webhook', config.discordWebhookUrl], ['webhook', config.webhookUrl]] as const) {
    if (url) lines.push({ what: name, ok: true, detail: 'configured (not called: it would post a message)' });
  }
  if (config.arrWebhookToken) {
    // The *arrs call us here; press Test in their Connect settings to try it (it answers 200).
    lines.push({ what: 'arr webhook', ok: true, detail: `POST /hooks/arr on the ops server (HTTP_BIND ${formatBindAddress(config.http.bind)}), ARR_WEBHOOK_TOKEN set` });
  }
  return lines;
}

export async function runCheck(env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`harvester check: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  out.write('configuration (secrets masked):\n');
  const described = describeConfig(config);
  const width = Math.max(...Object.keys(described).map((k) => k.length));
  for (const [key, value] of Object.entries(described)) {
    out.write(`  ${key.padEnd(width)}  ${value === null ? '-' : String(value)}\n`);
  }
  for (const w of config.warnings) out.write(`warning: ${w}\n`);
  out.write('connections:\n');
  const lines = await checkConnections(config);
  for (const l of lines) out.write(`  ${l.ok ? 'ok  ' : 'FAIL'}  ${l.what}: ${l.detail}\n`);
  return lines.every((l) => l.ok) ? 0 : 1;
}

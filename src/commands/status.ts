// `harvester status`: the loops and transfers of a running daemon, like `pm2
// ls`, read from its ops API (found through HTTP_BIND and HTTP_TOKEN, or
// --url). Exit codes: 0 shown; 3 no daemon answers there (LSB's "not
// running"); 1 anything else (token refused, not harvester, timeout).
import Table from 'cli-table3';
import { ConfigError, parseBindAddress, withFileValues } from '../transfers/config';
import { ago, bytes, eta, plain, rate, duration } from '../http/format';
import type { LoopsView, TransferView, TransfersView } from '../http/views';
import type { ReplicasView } from '../transfers/store/replicas';

export interface StatusOptions {
  url?: string;
  json?: boolean;
  timeoutMs?: number;
  /** Terminal width for the tables; default: the terminal's, or 120. */
  columns?: number;
}

export const EXIT_NOT_RUNNING = 3;

/** Where the daemon's ops server is: --url, else HTTP_BIND (a wildcard bind is reached on loopback). */
export function opsUrl(env: NodeJS.ProcessEnv, url?: string): string {
  if (url) return url.replace(/\/+$/, '');
  const bind = (env.HTTP_BIND && parseBindAddress(env.HTTP_BIND.trim())) || { host: '127.0.0.1', port: 9092 };
  let host = bind.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${bind.port}`;
}

class StatusError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}

async function getJson<T>(base: string, path: string, token: string | undefined, timeoutMs: number): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL' || code === 'ECONNRESET') {
      throw new StatusError(
        `no harvester is running at ${base} (${code === 'ECONNREFUSED' ? 'connection refused' : code}).\n` +
        'Start it with `harvester run` (or `npm start`), or set HTTP_BIND (or --url) to the address its ops server listens on.',
        EXIT_NOT_RUNNING,
      );
    }
    if ((err as Error).name === 'TimeoutError') throw new StatusError(`harvester at ${base} did not answer within ${timeoutMs / 1000} s`);
    throw new StatusError(`cannot reach ${base}: ${(err as Error).message}`);
  }
  if (res.status === 401) {
    throw new StatusError(token
      ? `the harvester at ${base} refused HTTP_TOKEN: set it to the daemon's value`
      : `the harvester at ${base} requires a token: set HTTP_TOKEN to the daemon's value`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new StatusError(`something answers at ${base}, but it is not harvester's ops server (HTTP ${res.status} on ${path})`);
  }
  if (!res.ok) {
    const why = (body as { error?: unknown }).error;
    throw new StatusError(`${base}${path}: HTTP ${res.status}${typeof why === 'string' ? `: ${plain(why, 300)}` : ''}`);
  }
  return body as T;
}

export async function fetchStatus(base: string, token: string | undefined, timeoutMs = 5000): Promise<{ loops: LoopsView; transfers: TransfersView; replicas?: ReplicasView }> {
  const [loops, transfers, replicas] = await Promise.all([
    getJson<LoopsView>(base, '/api/loops', token, timeoutMs),
    getJson<TransfersView>(base, '/api/transfers?state=downloading,failed&limit=20', token, timeoutMs),
    // An older daemon (or `run --config`) has none: the table is left out.
    getJson<ReplicasView>(base, '/api/replicas', token, timeoutMs).catch(() => undefined),
  ]);
  if (!loops || !Array.isArray(loops.loops) || !transfers || typeof transfers.counts !== 'object') {
    throw new StatusError(`something answers at ${base}, but it is not harvester's ops server (unexpected JSON)`);
  }
  return replicas && Array.isArray(replicas.replicas) ? { loops, transfers, replicas } : { loops, transfers };
}

export async function runStatus(
  env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream, opts: StatusOptions = {},
): Promise<number> {
  const base = opsUrl(env, opts.url);
  let token: string | undefined;
  try {
    // HTTP_TOKEN_FILE: the same file the daemon reads (a Docker secret in a container).
    token = withFileValues(env).HTTP_TOKEN || undefined;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err.write(`harvester status: ${e.message}\n`);
    return 1;
  }
  try {
    const status = await fetchStatus(base, token, opts.timeoutMs ?? 5000);
    if (opts.json) out.write(`${JSON.stringify(status, null, 2)}\n`);
    else out.write(renderStatus(status, base, opts.columns ?? ((out as { columns?: number }).columns || 120)));
    return 0;
  } catch (e) {
    if (!(e instanceof StatusError)) throw e;
    err.write(`harvester status: ${e.message}\n`);
    return e.code;
  }
}

const PLAIN_TABLE = { style: { head: [] as string[], border: [] as string[], 'padding-left': 1, 'padding-right': 1, compact: true } };

/** The text `harvester status` prints; remote text (names, errors) is stripped of control characters. */
export function renderStatus(s: { loops: LoopsView; transfers: TransfersView; replicas?: ReplicasView }, base: string, columns = 120): string {
  const h = s.loops.harvester;
  const ready = s.loops.loops.filter((l) => l.state === 'ready').length;
  const lines: string[] = [];
  const stateWord = h.state === 'stopping' ? 'stopping' : `${ready}/${s.loops.loops.length} loops ready`;
  lines.push(`harvester ${plain(h.version, 20)} · pid ${h.pid} · up ${duration(h.uptimeMs)} · ${base} · ${stateWord}`, '');

  const fixed = 20 + 12 + 8 + 10 + 14 + 6 * 3 + 1;
  const errWidth = Math.max(16, columns - fixed);
  const loops = new Table({ ...PLAIN_TABLE, head: ['loop', 'state', 'thread', 'restarts', 'last tick', 'last error'] });
  for (const l of s.loops.loops) {
    const tick = l.inTick ? 'now' : l.lastTickAgoMs === null ? '-' : ago(l.lastTickAgoMs);
    const error = l.lastError ? `${plain(l.lastError.message, errWidth - 12)} (${ago(l.lastError.agoMs)})` : '';
    loops.push([plain(l.name, 20), l.state, l.threadId ?? '-', l.restarts, tick, error]);
  }
  lines.push(loops.toString(), '');

  if (s.replicas) {
    // Who shares the store, and which replica runs each loop that runs once (its leader lease).
    const r = s.replicas;
    const table = new Table({ ...PLAIN_TABLE, head: [`replicas (${r.store})`, 'leader leases'] });
    for (const x of r.replicas) {
      table.push([`${plain(x.replica, 60)}${x.replica === r.self ? ' (this one)' : ''}`, x.leases.length ? x.leases.map((l) => plain(l, 30)).join(', ') : 'standing by']);
    }
    lines.push(table.toString(), '');
  }

  const t = s.transfers;
  const byState = Object.entries(t.counts).filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`);
  lines.push(`transfers: ${t.total}${byState.length ? ` (${byState.join(' · ')})` : ''}`);

  if (t.active.length === 0) {
    lines.push('nothing downloading');
  } else {
    // Connections (segmented transfers) when the download loop reports them.
    const conns = t.active.some((a) => typeof a.connections === 'number');
    const nameWidth = Math.max(16, columns - (8 + 24 + 13 + 10 + (conns ? 8 : 0) + 5 * 3 + 1));
    // Last, so the columns before read as they always did.
    const head = ['downloading', 'done', 'size', 'rate', 'time left', ...(conns ? ['conns'] : [])];
    const active = new Table({ ...PLAIN_TABLE, head, colAligns: head.map((_, i) => (i === 0 ? 'left' : 'right')) });
    for (const a of t.active) {
      const c = conns ? [typeof a.connections === 'number' ? String(a.connections) : '-'] : [];
      active.push([
        plain(a.name, nameWidth),
        a.percent === null ? '-' : `${a.percent.toFixed(1)}%`,
        `${bytes(a.doneBytes)} / ${bytes(a.totalBytes)}`,
        a.rate === null ? '-' : rate(a.rate),
        eta(a.etaSeconds),
        ...c,
      ]);
      // Several files in flight: each one's connections and rate.
      const files = a.files ?? [];
      if (files.length > 1) {
        for (const f of files) {
          active.push([plain(`  ${f.path}`, nameWidth), '', `${bytes(f.doneBytes)} / ${bytes(f.totalBytes)}`, rate(f.rate), '', ...(conns ? [String(f.connections)] : [])]);
        }
      }
    }
    lines.push(active.toString());
  }
  const failed = t.transfers.filter((x) => x.state === 'failed');
  if (failed.length > 0) {
    lines.push('', `failed (${t.counts.failed}; \`harvester retry <id>\` queues one again):`);
    for (const f of failed.slice(0, 10)) {
      lines.push(`  ${plain(f.id, 60)}  ${plain(f.name, 60)}: ${plain(f.lastError ?? 'no error recorded', Math.max(20, columns - 40))}`);
    }
    if (t.counts.failed > 10) lines.push(`  … and ${t.counts.failed - 10} more`);
  }
  // An older daemon sends no `retrying`.
  const retrying = t.retrying ?? [];
  if (retrying.length > 0) {
    lines.push('', `waiting to retry (${retrying.length}${retrying.length >= t.limit ? '+' : ''}; each is tried again by itself${t.maxAttempts ? `, failed for good after ${t.maxAttempts} attempts` : ''}):`);
    for (const r of retrying.slice(0, 10)) {
      const attempt = `attempt ${r.attempts}${t.maxAttempts ? ` of ${t.maxAttempts}` : ''} failed`;
      lines.push(`  ${plain(r.id, 60)}  ${plain(r.name, 60)}: ${attempt}, ${nextAttempt(r)}: ${plain(r.lastError ?? 'no error recorded', Math.max(20, columns - 40))}`);
    }
    if (retrying.length > 10) lines.push(`  … and ${retrying.length - 10} more`);
  }
  // An older daemon sends no `excluded`.
  const excluded = t.excluded ?? [];
  if (excluded.length > 0) {
    lines.push('', 'left out by EXCLUDE (latest first):');
    for (const x of excluded.slice(0, 10)) {
      const shown = x.paths.slice(0, 3).map((p) => plain(p, 60)).join(', ');
      const more = x.count > 3 ? `, … ${x.count - 3} more` : '';
      lines.push(`  ${plain(x.name, 60)}: ${x.count} file${x.count === 1 ? '' : 's'} (${shown}${more})`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `next attempt in 3m 20s`, from the server's clock (the daemon may run on another machine). */
function nextAttempt(r: TransferView): string {
  const inMs = r.nextAttemptInMs ?? (r.nextAttemptAt === null ? null : r.nextAttemptAt - Date.now());
  if (inMs === null) return 'next attempt not scheduled';
  return inMs <= 0 ? 'next attempt due now' : `next attempt in ${duration(Math.max(1000, inMs))}`;
}

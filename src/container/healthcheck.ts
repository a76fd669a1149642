// The image's HEALTHCHECK: node itself asks the ops server's /healthz (the image has
// no curl). /healthz needs no token. Exit 0 when it answers {"status":"ok"}, else 1
// with one line saying why (`docker inspect` keeps the last lines).
import { opsUrl } from '../commands/status';

async function check(): Promise<number> {
  const url = `${opsUrl(process.env)}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(4000), redirect: 'error' });
    const body = (await res.json().catch(() => ({}))) as { status?: unknown };
    if (res.ok && body.status === 'ok') return 0;
    process.stdout.write(`${url}: HTTP ${res.status}, status ${JSON.stringify(body.status ?? null)}\n`);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    process.stdout.write(`${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}\n`);
    return 1;
  }
  return 1;
}

void check().then((code) => process.exit(code));

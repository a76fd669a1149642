// `harvester login putio`: put.io's device sign-in (src/transfers/clients/putio-link.ts).
// The user types a short code at put.io/link; the token put.io then hands over is written
// to PUTIO_TOKEN_FILE (mode 600), where the daemon reads it. The token is never typed
// into a shell (no history, no `ps`), never printed, never logged.
import { ConfigError } from '../transfers/config';
import { formatDuration, parseDuration } from '../transfers/units';
import { checkLinkCode, LinkError, PUTIO_LINK_URL, requestLinkCode } from '../transfers/clients/putio-link';
import { sleep } from '../transfers/net/sleep';
import { writeSecretFile } from './secret-file';

export interface LoginPutioOptions {
  appId?: string;
  file?: string;
  /** Durations as written: `10m`, `3s`. */
  timeout?: string;
  interval?: string;
}

/** Exit code of a sign-in cancelled by Ctrl-C (128 + SIGINT, as shells report it). */
export const EXIT_CANCELLED = 130;

class LoginError extends Error {}

function settings(env: NodeJS.ProcessEnv, opts: LoginPutioOptions) {
  const file = (opts.file ?? env.PUTIO_TOKEN_FILE ?? '').trim();
  if (!file) throw new LoginError('set PUTIO_TOKEN_FILE (or --file) to the file the daemon reads the token from, e.g. /config/putio.token');
  const appId = (opts.appId ?? env.PUTIO_APP_ID ?? '').trim();
  if (!appId) throw new LoginError('set PUTIO_APP_ID (or --app-id) to the client id of a put.io OAuth app (create one at https://app.put.io/oauth)');
  if (!/^\d{1,12}$/.test(appId)) throw new LoginError(`PUTIO_APP_ID: ${JSON.stringify(appId.slice(0, 20))} is not a put.io app id (a number)`);
  const api = (env.PUTIO_API_URL ?? '').trim() || 'https://api.put.io';
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    throw new LoginError('PUTIO_API_URL: is not a URL (use e.g. https://api.put.io)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LoginError('PUTIO_API_URL: must be an http:// or https:// URL');
  let timeoutMs: number;
  let intervalMs: number;
  try {
    timeoutMs = parseDuration(opts.timeout ?? '10m', '--timeout');
    intervalMs = parseDuration(opts.interval ?? '3s', '--interval');
  } catch (err) {
    throw new LoginError((err as ConfigError).message);
  }
  if (timeoutMs <= 0 || intervalMs <= 0) throw new LoginError('--timeout and --interval must be longer than 0');
  return { file, appId, apiUrl: api.replace(/\/+$/, ''), timeoutMs, intervalMs };
}

/**
 * Runs the sign-in; the exit code: 0 token written, 1 refused/expired/timed out/bad
 * settings, 130 cancelled (`signal` aborted, the CLI's Ctrl-C). Nothing is written unless put.io linked the code.
 */
export async function loginPutio(
  env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream, opts: LoginPutioOptions, signal: AbortSignal,
): Promise<number> {
  const fail = (message: string): number => {
    err.write(`harvester login putio: ${message}\n`);
    return 1;
  };
  let s: ReturnType<typeof settings>;
  try {
    s = settings(env, opts);
  } catch (e) {
    if (e instanceof LoginError) return fail(e.message);
    throw e;
  }
  const cancelled = (): number => {
    err.write('harvester login putio: cancelled; no token written\n');
    return EXIT_CANCELLED;
  };
  try {
    const code = await requestLinkCode(s.apiUrl, s.appId, signal);
    out.write(`Open ${PUTIO_LINK_URL} and enter the code: ${code}\n`);
    out.write(`Waiting for put.io (up to ${formatDuration(s.timeoutMs)}; Ctrl-C cancels)...\n`);
    const deadline = Date.now() + s.timeoutMs;
    let said: string | undefined;
    for (;;) {
      // The shared sleep rejects on abort; here Ctrl-C ends the wait and the next line says "cancelled".
      await sleep(Math.min(s.intervalMs, Math.max(0, deadline - Date.now())), signal).catch(() => undefined);
      if (signal.aborted) return cancelled();
      if (Date.now() >= deadline) {
        return fail(`the code was not linked within ${formatDuration(s.timeoutMs)}; no token written (run it again for a new code)`);
      }
      let check;
      try {
        check = await checkLinkCode(s.apiUrl, code, signal);
      } catch (e) {
        if (signal.aborted) return cancelled();
        if (e instanceof LinkError && e.retryable) {
          // A passing outage: say it once, keep asking until the deadline.
          if (said !== e.message) err.write(`harvester login putio: ${e.message}; asking again\n`);
          said = e.message;
          continue;
        }
        throw e;
      }
      if (check.state === 'pending') continue;
      await writeSecretFile(s.file, `${check.token}\n`);
      out.write(`Signed in: the token is in ${s.file} (mode 600). Start the daemon with DOWNLOAD_CLIENT=putio PUTIO_TOKEN_FILE=${s.file}\n`);
      if (env.PUTIO_TOKEN?.trim()) err.write('harvester login putio: PUTIO_TOKEN is set too: unset it, the daemon refuses both\n');
      return 0;
    }
  } catch (e) {
    if (signal.aborted) return cancelled();
    if (e instanceof LinkError) return fail(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code) return fail(`cannot write ${s.file} (${code}); no token written`);
    throw e;
  }
}

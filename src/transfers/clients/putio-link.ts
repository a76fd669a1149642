// put.io's device sign-in ("OOB"), as putioarr's `get-token` and put.io's own TV apps
// use it (reference/peers-and-protocols.md C.1):
//   GET /v2/oauth2/oob/code?app_id=<id>&client_name=harvester -> {"status":"OK","code":"ABCD1","qr_code_url":...}
//   the user opens https://put.io/link, signs in and types the code;
//   GET /v2/oauth2/oob/code/<code> -> {"status":"OK","oauth_token":null} until then, the token after;
//   a code that is unknown or expired: 404 {"error_type":"code_not_found"}.
// Neither call carries a token. The token is returned to the caller only, never in an error.

/** Where the user types the code. */
export const PUTIO_LINK_URL = 'https://put.io/link';

export type LinkCheck = { state: 'pending' } | { state: 'linked'; token: string };

/** A failed call; `retryable` when asking again later may work (network, 5xx, 429). */
export class LinkError extends Error {
  override readonly name = 'LinkError';
  constructor(message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
  }
}

const CALL_TIMEOUT_MS = 30_000;

async function getJson(url: string, signal: AbortSignal): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]),
      redirect: 'error',
    });
  } catch (err) {
    if (signal.aborted) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${CALL_TIMEOUT_MS / 1000} s` : cause?.code ?? cause?.message ?? (err as Error).message;
    throw new LinkError(`put.io cannot be reached (${why})`, true);
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
  } catch {
    if (res.ok) throw new LinkError(`put.io answered HTTP ${res.status} with something that is not JSON`, true, res.status);
  }
  return { status: res.status, body };
}

function refusal(status: number, body: Record<string, unknown>): LinkError {
  const type = typeof body.error_type === 'string' ? body.error_type : undefined;
  const message = typeof body.error_message === 'string' ? body.error_message.replace(/[\r\n]+/g, ' ').slice(0, 200) : undefined;
  const detail = [type, message].filter(Boolean).join(': ');
  return new LinkError(`put.io answered HTTP ${status}${detail ? ` (${detail})` : ''}`, status === 429 || status >= 500, status);
}

/** A new code for the user to type at put.io/link. */
export async function requestLinkCode(apiUrl: string, appId: string, signal: AbortSignal): Promise<string> {
  const url = `${apiUrl}/v2/oauth2/oob/code?app_id=${encodeURIComponent(appId)}&client_name=harvester`;
  const { status, body } = await getJson(url, signal);
  if (status !== 200) throw refusal(status, body);
  const code = body.code;
  // The code is shown to the user: only a short, plain one.
  if (typeof code !== 'string' || !/^[A-Za-z0-9-]{1,32}$/.test(code)) throw new LinkError('put.io answered without a usable code', false, status);
  return code;
}

/** Whether the user has linked `code` yet; the token once they have. */
export async function checkLinkCode(apiUrl: string, code: string, signal: AbortSignal): Promise<LinkCheck> {
  const { status, body } = await getJson(`${apiUrl}/v2/oauth2/oob/code/${encodeURIComponent(code)}`, signal);
  if (status === 404) throw new LinkError(`the code ${code} is unknown to put.io or has expired`, false, status);
  if (status !== 200) throw refusal(status, body);
  const token = body.oauth_token;
  if (token === null || token === undefined || token === '') return { state: 'pending' };
  if (typeof token !== 'string' || /[\s\0]/.test(token)) throw new LinkError('put.io answered a token that is not a plain string', false, status);
  return { state: 'linked', token };
}

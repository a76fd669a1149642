// Typed errors of every remote harvester talks to (put.io, the local folder,
// Sonarr/Radarr, webhooks), made in this one module (STYLE.md: errors in one place)
// so that loops decide by type (retry later, alert, give up) and never by
// parsing message text.
//
// Messages never carry secrets: callers pass an `operation` such as
// "put.io GET /v2/transfers/list" (a path, never a full URL, since download
// and webhook URLs embed tokens), and no raw `cause` that could hold one.

export type ClientErrorCode =
  | 'AUTH'
  | 'RATE_LIMITED'
  | 'REMOTE'
  | 'NOT_FOUND'
  | 'REJECTED'
  | 'MALFORMED'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'RESTART_FROM_ZERO'
  | 'SOURCE_CHANGED';

export interface ClientErrorInit {
  /** What was attempted, e.g. "put.io GET /v2/files/list". Never a URL with a token. */
  operation: string;
  /** HTTP status, when there was a response. */
  status?: number;
  /** The remote's own error kind (put.io `error_type`), when it sent one. */
  remoteType?: string;
}

/** Base of every typed remote error. `retryable`: the same call may succeed later unchanged. */
export abstract class ClientError extends Error {
  abstract readonly code: ClientErrorCode;
  abstract readonly retryable: boolean;
  readonly operation: string;
  readonly status?: number;
  readonly remoteType?: string;

  constructor(message: string, init: ClientErrorInit) {
    super(message);
    this.name = new.target.name;
    this.operation = init.operation;
    if (init.status !== undefined) this.status = init.status;
    if (init.remoteType !== undefined) this.remoteType = init.remoteType;
  }
}

/** 401/403: the credentials are wrong or revoked. Not retryable: a human must act (alert.auth-failed). */
export class AuthError extends ClientError {
  readonly code = 'AUTH' as const;
  readonly retryable = false;
}

/** 429: the remote asks us to slow down; retry after `retryAfterMs` when it said so. */
export class RateLimitedError extends ClientError {
  readonly code = 'RATE_LIMITED' as const;
  readonly retryable = true;
  readonly retryAfterMs?: number;
  constructor(message: string, init: ClientErrorInit & { retryAfterMs?: number }) {
    super(message, init);
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }
}

/** 5xx (or an error envelope without a usable status): the remote failed; may work later. */
export class RemoteError extends ClientError {
  readonly code = 'REMOTE' as const;
  readonly retryable: boolean;
  constructor(message: string, init: ClientErrorInit & { retryable?: boolean }) {
    super(message, init);
    this.retryable = init.retryable ?? true;
  }
}

/** 404/410: the transfer or file is gone on the remote (removed, deleted). */
export class NotFoundError extends ClientError {
  readonly code = 'NOT_FOUND' as const;
  readonly retryable = false;
}

/** Any other 4xx: the remote refused this request as made; repeating it will not help. */
export class RejectedError extends ClientError {
  readonly code = 'REJECTED' as const;
  readonly retryable = false;
}

/** The response was not what the API documents: bad JSON, missing fields, truncated body. */
export class MalformedResponseError extends ClientError {
  readonly code = 'MALFORMED' as const;
  readonly retryable = false;
}

/** No (complete) answer within the call's time limit, or a download stalled. */
export class TimeoutError extends ClientError {
  readonly code = 'TIMEOUT' as const;
  readonly retryable = true;
  readonly timeoutMs: number;
  constructor(message: string, init: ClientErrorInit & { timeoutMs: number }) {
    super(message, init);
    this.timeoutMs = init.timeoutMs;
  }
}

/** The connection failed or dropped (refused, reset, DNS). `detail` is the system code (ECONNRESET...). */
export class NetworkError extends ClientError {
  readonly code = 'NETWORK' as const;
  readonly retryable = true;
  readonly detail?: string;
  constructor(message: string, init: ClientErrorInit & { detail?: string }) {
    super(message, init);
    if (init.detail !== undefined) this.detail = init.detail;
  }
}

/**
 * A resume (`Range: bytes=N-`) cannot continue at N: the server ignored the
 * range (200 with the whole file), or N is past the end (416). The caller must
 * throw its partial copy away and open the file again at offset 0.
 */
export class RestartFromZeroError extends ClientError {
  readonly code = 'RESTART_FROM_ZERO' as const;
  /** Not retryable as is: the same offset fails again. The caller retries from 0. */
  readonly retryable = false;
  readonly restartFromZero = true as const;
  readonly offset: number;
  constructor(message: string, init: ClientErrorInit & { offset: number }) {
    super(message, init);
    this.offset = init.offset;
  }
}

/**
 * The source file changed while it was read (size, mtime or inode differ
 * before and after): the bytes copied are a mix of two versions. The caller
 * throws its partial copy away; a later attempt copies the file again.
 */
export class SourceChangedError extends ClientError {
  readonly code = 'SOURCE_CHANGED' as const;
  readonly retryable = true;
  readonly restartFromZero = true as const;
}

export function isClientError(err: unknown): err is ClientError {
  return err instanceof ClientError;
}

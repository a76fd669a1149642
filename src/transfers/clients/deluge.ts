// Deluge as the DownloadClient the steps use, from Deluge's own settings: the
// Deluge Transfer Source (sources/deluge.ts: the RPC) and a File Transport for
// its files: DELUGE_MOUNT_DIR through the hung-mount-safe mount transport
// (transports/mount.ts), or DELUGE_COMPLETED_DIR over HTTP(S) below
// DELUGE_BASE_URL with Range resume (transports/http.ts), the original's way.
// These are FILES_FROM's aliases (config/settle.ts): the daemon builds the same
// pair through sources/create.ts; this class keeps the settings in one object
// for callers that have Deluge's and nothing else.
import type { RemoteTransfer } from '../model';
import type { FetchLike } from '../net/http';
import type { RetryPolicy } from '../net/retry';
import type { Sleep } from '../net/sleep';
import { DelugeSource, delugeBasicAuth } from '../sources/deluge';
import { SourceSeedbox } from '../sources/seedbox';
import { HttpTransport } from '../transports/http';
import { MountTransport } from '../transports/mount';
import { PathTransport } from '../transports/path';
import type { FileTransport } from '../transports/types';
import type { MountReaderOptions } from './deluge-mount';

export interface DelugeClientOptions {
  /** DELUGE_BASE_URL, e.g. https://seedbox.example/deluge */
  baseUrl: string;
  /** DELUGE_API_URL_PATH, default /json */
  apiUrlPath?: string;
  /** DELUGE_PASSWORD: the web UI's password (and, with DELUGE_USERNAME, the HTTP Basic password). */
  password: string;
  /** DELUGE_USERNAME: HTTP Basic user for file fetches (and a proxy in front of the web UI). */
  username?: string | null;
  /** DELUGE_HOST: which daemon of the web UI's list, when it has several. */
  host?: string | null;
  /** TARGET_LABEL ("" = every torrent). */
  label: string;
  /** DELUGE_COMPLETED_DIR: URL path of the save path, for fetching over HTTP(S). */
  completedDir?: string | null;
  /** DELUGE_MOUNT_DIR: the save path mounted here. Wins over completedDir. */
  mountDir?: string | null;
  /** The save folder the mount or the URL shows (FILES_REMOTE_ROOT); default: Deluge's own (asked once). */
  remoteRoot?: string | null;
  /** Mount read limits (deluge-mount.ts). */
  mount?: Omit<MountReaderOptions, 'root'>;
  fetch?: FetchLike;
  /** Limit of each API call. Default 30 s. */
  timeoutMs?: number;
  /** An HTTP download with no byte for this long fails with a TimeoutError. Default 60 s. */
  stallTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  random?: () => number;
}

export class DelugeClient extends SourceSeedbox {
  declare readonly addTransfer: (req: Parameters<NonNullable<SourceSeedbox['addTransfer']>>[0], signal?: AbortSignal) => Promise<RemoteTransfer>;

  constructor(opts: DelugeClientOptions) {
    const source = new DelugeSource(opts);
    const { transport, transportRoot, asReported } = delugeTransport(opts);
    super({ source, transport, root: { remoteRoot: opts.remoteRoot ?? (asReported ? null : undefined), transportRoot } });
  }
}

/** DELUGE_MOUNT_DIR (a mount), else DELUGE_COMPLETED_DIR (HTTP below DELUGE_BASE_URL), else the reported paths on this machine. */
function delugeTransport(opts: DelugeClientOptions): { transport: FileTransport; transportRoot: string; asReported?: boolean } {
  if (opts.mountDir) {
    const transport = new MountTransport({ ...opts.mount, root: opts.mountDir, variable: 'DELUGE_MOUNT_DIR', operation: 'Deluge mount read' });
    return { transport, transportRoot: opts.mountDir };
  }
  if (opts.completedDir) {
    const auth = delugeBasicAuth(opts);
    const dir = opts.completedDir.replace(/^\/+|\/+$/g, '');
    const transport = new HttpTransport({
      url: dir ? `${auth.base}/${dir}` : auth.base,
      username: auth.username,
      password: auth.password,
      variable: 'DELUGE_COMPLETED_DIR',
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.stallTimeoutMs !== undefined ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
      ...(opts.retry ? { retry: opts.retry } : {}),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
      ...(opts.random ? { random: opts.random } : {}),
    });
    return { transport, transportRoot: transport.rootPath };
  }
  return { transport: new PathTransport('/'), transportRoot: '/', asReported: true };
}

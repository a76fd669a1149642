// The torrent-client Transfer Sources (DESIGN.md 7) and the File Transport
// FILES_FROM names, put together into the seedbox the steps use. Each source
// registers its factory here (one line per kind).
//
// put.io is not here: its files are reached by links its API signs per file
// (clients/putio.ts asks for each file's URL, then reads it over HTTP with
// Range), so its reading stays inside its client. The folder source (`local`)
// is clients/local.ts over this machine's filesystem, or clients/local-remote.ts
// over a File Transport.
import type { Config } from '../config';
import type { DownloadClient } from '../clients/types';
import type { ClientKind } from '../model';
import { HttpTransport } from '../transports/http';
import { MountTransport } from '../transports/mount';
import { SftpTransport } from '../transports/sftp';
import { FtpsTransport } from '../transports/ftps';
import type { FileTransport } from '../transports/types';
import { QbittorrentSource } from './qbittorrent';
import { RtorrentSource } from './rtorrent';
import { SourceSeedbox } from './seedbox';
import { TransmissionSource } from './transmission';
import type { TransferSource } from './types';
import { DelugeSource, delugeBasicAuth } from './deluge';

type SourceFactory = (config: Config) => TransferSource;

const SOURCES: Partial<Record<ClientKind, SourceFactory>> = {
  deluge: (c) => new DelugeSource({ baseUrl: c.deluge.baseUrl ?? '', apiUrlPath: c.deluge.apiUrlPath, password: c.deluge.password ?? '', username: c.deluge.username, host: c.deluge.host, label: c.targetLabel }),
  qbittorrent: (c) => new QbittorrentSource({ url: c.torrentClient.url ?? '', username: c.torrentClient.username, password: c.torrentClient.password, label: c.targetLabel }),
  transmission: (c) => new TransmissionSource({ url: c.torrentClient.url!, username: c.torrentClient.username, password: c.torrentClient.password, label: c.targetLabel }),
  rtorrent: (c) => new RtorrentSource({ url: c.torrentClient.url ?? '', username: c.torrentClient.username, password: c.torrentClient.password, label: c.targetLabel }),
};

export function createTorrentClientSeedbox(config: Config): DownloadClient {
  const make = SOURCES[config.downloadClient];
  if (!make) throw new Error(`DOWNLOAD_CLIENT=${config.downloadClient} has no Transfer Source in this build`);
  const { transport, transportRoot, asReported } = filesTransport(config);
  // An sftp:// or ftps:// URL without a path reads the paths the client reports, as they are.
  const remoteRoot = config.filesRemoteRoot ?? (asReported ? null : undefined);
  return new SourceSeedbox({ source: make(config), transport, root: { remoteRoot, transportRoot } });
}

/** FILES_FROM's transport and the folder it shows. */
export function filesTransport(config: Config): { transport: FileTransport; transportRoot: string; asReported: boolean } {
  const from = config.filesFrom;
  switch (from.kind) {
    case 'path': {
      // A mount may hang: every call on it runs in a child process (transports/mount.ts, ADR 3).
      // The download loop is its only reader: one slot per parallel file, one for `check`.
      const variable = config.filesFromVariable ?? 'FILES_FROM';
      const timeoutMs = config.deluge.mountTimeoutMs ?? undefined;
      const transport = new MountTransport({
        root: from.dir,
        variable,
        ...(variable === 'DELUGE_MOUNT_DIR' ? { operation: 'Deluge mount read' } : {}),
        maxReaders: config.maxParallel + 1,
        ...(timeoutMs !== undefined ? { openTimeoutMs: timeoutMs, stallTimeoutMs: timeoutMs } : {}),
      });
      return { transport, transportRoot: from.dir, asReported: false };
    }
    case 'sftp': {
      const u = from.url;
      const transport = new SftpTransport({ username: u.username, host: u.host, port: u.port, settings: config.sftp });
      return { transport, transportRoot: u.path === '.' ? '/' : u.path, asReported: u.path === '.' };
    }
    case 'ftps': {
      const u = from.url;
      const transport = new FtpsTransport({ scheme: u.scheme, username: u.username, host: u.host, port: u.port, settings: config.ftp, maxReads: config.maxParallel });
      return { transport, transportRoot: u.path === '.' ? '/' : u.path, asReported: u.path === '.' };
    }
    case 'http': {
      // DELUGE_COMPLETED_DIR: the file server takes DELUGE_USERNAME/DELUGE_PASSWORD (or DELUGE_BASE_URL's user:pass) as Basic auth.
      const deluge = config.filesFromVariable === 'DELUGE_COMPLETED_DIR'
        ? delugeBasicAuth({ baseUrl: from.url, username: config.deluge.username, password: config.deluge.password ?? '' })
        : null;
      const transport = new HttpTransport({
        url: deluge ? deluge.base : from.url,
        ...(deluge ? { username: deluge.username, password: deluge.password } : {}),
        variable: config.filesFromVariable ?? 'FILES_FROM',
      });
      return { transport, transportRoot: transport.rootPath, asReported: false };
    }
  }
}

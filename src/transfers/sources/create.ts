// The torrent-client Transfer Sources (DESIGN.md 7) and the File Transport
// FILES_FROM names, put together into the seedbox the steps use. Each source
// registers its factory here (one line per kind).
import type { Config } from '../config';
import type { DownloadClient } from '../clients/types';
import type { ClientKind } from '../model';
import { PathTransport } from '../transports/path';
import { SftpTransport } from '../transports/sftp';
import { FtpsTransport } from '../transports/ftps';
import type { FileTransport } from '../transports/types';
import { SourceSeedbox } from './seedbox';
import type { TransferSource } from './types';

type SourceFactory = (config: Config) => TransferSource;

const SOURCES: Partial<Record<ClientKind, SourceFactory>> = {};

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
    case 'path':
      return { transport: new PathTransport(from.dir), transportRoot: from.dir, asReported: false };
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
    case 'http':
      throw new Error('FILES_FROM=http(s):// has no File Transport in this build');
  }
}

// The download client the configuration names.
import type { Config } from '../config';
import { LocalClient } from './local';
import { RemoteFolderClient } from './local-remote';
import { SftpTransport } from '../transports/sftp';
import { FtpsTransport } from '../transports/ftps';
import { formatSeedboxUrl } from '../transports/url';
import { PutioClient } from './putio';
import type { DownloadClient } from './types';
import { createTorrentClientSeedbox } from '../sources/create';

export function createClient(config: Config): DownloadClient {
  switch (config.downloadClient) {
    case 'local': {
      const url = config.localSeedboxUrl;
      if (!url) return new LocalClient({ seedboxDir: config.localSeedboxDir!, label: config.targetLabel });
      // The folder source over SFTP or FTPS: the same rules, through the File Transport.
      const transport =
        url.scheme === 'sftp'
          ? new SftpTransport({ username: url.username, host: url.host, port: url.port, settings: config.sftp })
          : // One FTP connection per parallel file (FTP has one transfer per connection), and one for listings.
            new FtpsTransport({ scheme: url.scheme, username: url.username, host: url.host, port: url.port, settings: config.ftp, maxReads: config.maxParallel });
      return new RemoteFolderClient({ transport, root: url.path, label: config.targetLabel, shown: formatSeedboxUrl(url) });
    }
    case 'putio':
      return new PutioClient({
        token: config.putio.token ?? '',
        apiUrl: config.putio.apiUrl,
        uploadUrl: config.putio.uploadUrl,
        label: config.targetLabel,
      });
    case 'deluge':
    case 'qbittorrent':
    case 'rtorrent':
    case 'transmission':
      return createTorrentClientSeedbox(config);
  }
}


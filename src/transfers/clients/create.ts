// The download client the configuration names.
import type { Config } from '../config';
import { LocalClient } from './local';
import { PutioClient } from './putio';
import type { DownloadClient } from './types';

export function createClient(config: Config): DownloadClient {
  switch (config.downloadClient) {
    case 'local':
      return new LocalClient({ seedboxDir: config.localSeedboxDir, label: config.targetLabel });
    case 'putio':
      return new PutioClient({
        token: config.putio.token ?? '',
        apiUrl: config.putio.apiUrl,
        uploadUrl: config.putio.uploadUrl,
        label: config.targetLabel,
      });
    case 'deluge':
      throw new Error('DOWNLOAD_CLIENT=deluge is not available yet');
  }
}

// download: claim queued transfers and pull their files home (at most
// MAX_PARALLEL files at once), verified, renamed into place. Downloads run
// across ticks; each tick only claims more work while slots are free.
import { defineLoop } from '../src/loop';
import { Downloader } from '../src/transfers/download/downloader';
import { DownloadHistoryBatch } from '../src/transfers/download/history';
import { downloadsPause } from '../src/transfers/downloads-pause';
import type { Store } from '../src/transfers/store/store';
import { rateAt } from '../src/transfers/units';
import { daemonTick, openDaemon } from './support/daemon';

interface DownloadState {
  store: Store;
  downloader: Downloader;
  /** Bytes per minute for the status page's chart, written every 10 s. */
  history: DownloadHistoryBatch;
}

export default defineLoop({
  intervalMs: 1000,
  async setup(ctx): Promise<DownloadState> {
    const { config, client, owner, store } = await openDaemon(ctx);
    const history = new DownloadHistoryBatch(10_000);
    const downloader = new Downloader({
      store, client, owner,
      downloadDir: config.downloadDir,
      maxParallel: config.maxParallel,
      maxAttempts: config.maxAttempts,
      hasher: (input) => ctx.host.runTask('hash', input),
      log: ctx.log,
      // Outside a tick ctx.signal is the loop's stop signal: downloads outlive ticks.
      signal: ctx.signal,
      fileMode: 0o666 & ~config.umask,
      dirMode: 0o777 & ~config.umask,
      // PUID/PGID only mean something to root (the convention of *arr containers).
      fileOwner: process.getuid?.() === 0 && (config.puid !== null || config.pgid !== null)
        ? { uid: config.puid ?? 0, gid: config.pgid ?? 0 } : undefined,
      // MAX_DOWNLOAD_RATE, read at every chunk: a schedule by local time applies live.
      ...(config.downloadRate ? { rateCap: () => rateAt(config.downloadRate!, new Date()) } : {}),
      segments: config.segments,
      maxConnections: config.maxConnections,
      minSegmentSize: config.minSegmentSize,
      minFreeBytes: config.minFreeSpaceBytes,
      exclude: config.exclude,
    });
    // LIFO: downloads settle (keeping their .part files) before the store closes.
    ctx.defer(async () => {
      await downloader.drain();
      history.add(downloader.takeDownloadedBytes());
      await history.flush(store, true);
    });
    return { store, downloader, history };
  },
  tick: daemonTick<DownloadState>(async (ctx, { store, downloader, history }) => {
    // Paused from the status page (a flag in the store): claim nothing, stop what is in flight.
    const paused = (await downloadsPause(store)).paused;
    if (paused) downloader.pauseAll();
    else await downloader.fill();
    history.add(downloader.takeDownloadedBytes());
    await history.flush(store);
    ctx.setStatus({ active: downloader.progress(), connections: downloader.connectionsInUse, paused });
  }),
});

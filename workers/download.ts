// download: claim queued transfers and pull their files home (at most
// MAX_PARALLEL files at once), verified, renamed into place. Downloads run
// across ticks; each tick only claims more work while slots are free.
import { defineLoop } from '../src/loop';
import { Downloader } from '../src/transfers/download/downloader';
import { daemonTick, openDaemon } from './support/daemon';

let downloader: Downloader;

export default defineLoop({
  intervalMs: 1000,
  async setup(ctx) {
    const { config, store, client, owner } = await openDaemon(ctx);
    downloader = new Downloader({
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
      maxRate: config.maxDownloadRateBytesPerSec ?? undefined,
      minFreeBytes: config.minFreeSpaceBytes,
    });
    // LIFO: downloads settle (keeping their .part files) before the store closes.
    ctx.defer(() => downloader.drain());
  },
  tick: daemonTick(async (ctx) => {
    await downloader.fill();
    ctx.setStatus({ active: downloader.progress() });
  }),
});

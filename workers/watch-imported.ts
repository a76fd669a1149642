// watch-imported: the import step (src/transfers/import/watch-imports.ts) every
// POLLING_INTERVAL, on this worker's own store connection, asking the *arrs the
// configuration names.
import { defineLoop } from '../src/loop';
import { ArrClient, configuredArrs } from '../src/transfers/arr';
import { watchImports, type ImportWatch } from '../src/transfers/import/watch-imports';
import { daemonTick, openDaemon } from './support/daemon';

export default defineLoop({
  async setup(ctx): Promise<ImportWatch> {
    const { store, owner, config } = await openDaemon(ctx);
    const arrs = configuredArrs(config).map((arr) => new ArrClient(arr));
    if (arrs.length === 0) ctx.log.info({ event: 'arr.none' }, 'no Sonarr/Radarr/Lidarr/Readarr configured: downloaded transfers count as imported');
    return { store, owner, arrs, downloadDir: config.downloadDir, importTimeoutMs: config.importTimeoutMs, log: ctx.log };
  },
  tick: daemonTick((ctx, imports: ImportWatch) => watchImports(imports, ctx.signal)),
});

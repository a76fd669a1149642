// watch-imported: for `downloaded` transfers, ask Sonarr/Radarr/Lidarr/Readarr
// whether they imported them (by info-hash first, by path second); then
// `imported` (src/transfers/imports.ts, the same rule as the *arr webhook on the
// ops server). With none configured, a downloaded transfer counts as imported at
// once. After IMPORT_TIMEOUT without an import, a transfer is no longer asked
// about: one `transfer.not-imported` notification, its copy kept.
import { defineLoop } from '../src/loop';
import { ArrClient, configuredArrs } from '../src/transfers/arr';
import { awaitingImport, giveUpImport, importWaitOver, markImported } from '../src/transfers/imports';
import { recordedPath } from '../src/transfers/layout';
import { formatDuration } from '../src/transfers/units';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';
import { remoteCall } from '../src/transfers/net/remote-call';

let daemon: Daemon;
let arrs: ArrClient[] = [];

export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
    arrs = configuredArrs(daemon.config).map((arr) => new ArrClient(arr));
    if (arrs.length === 0) ctx.log.info({ event: 'arr.none' }, 'no Sonarr/Radarr/Lidarr/Readarr configured: downloaded transfers count as imported');
  },
  tick: daemonTick(async (ctx) => {
    const { store, owner, config } = daemon;
    for (const t of await store.list({ state: 'downloaded' })) {
      if (ctx.signal.aborted) return;
      if (!awaitingImport(t)) continue;
      const name = t.localName ?? t.name;
      const path = recordedPath(config.downloadDir, t);
      if (arrs.length > 0 && importWaitOver(t, Date.now(), config.importTimeoutMs)) {
        const waited = formatDuration(config.importTimeoutMs!);
        if (await giveUpImport(store, t, owner, { importTimeoutMs: config.importTimeoutMs!, path })) {
          ctx.log.warn({ event: 'transfer.not-imported', transferId: t.id, name, path, importTimeout: waited },
            `"${name}" was not imported within IMPORT_TIMEOUT=${waited}: no longer asking the *arrs about it; the copy is kept at ${path}`);
        }
        continue;
      }
      let by: string | undefined;
      if (arrs.length === 0) by = 'no-arr';
      for (const arr of arrs) {
        const found = await remoteCall(ctx.log, 'arr.check-failed', `asking ${arr.kind} about "${name}" failed`,
          () => arr.findImport({ hash: t.hash, paths: [path] }, ctx.signal));
        if (found?.imported) {
          by = `${arr.kind}:${found.matchedBy ?? 'hash'}`;
          break;
        }
      }
      if (!by) continue;
      if ((await markImported(store, t, owner, by)) === 'imported') {
        ctx.log.info({ event: 'transfer.imported', transferId: t.id, name, by }, `"${name}" imported (${by})`);
      }
    }
  }),
});

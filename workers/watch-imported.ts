// watch-imported: for `downloaded` transfers, ask Sonarr/Radarr whether they
// imported them (by info-hash first, by path second); then `imported`. With
// neither configured, a downloaded transfer counts as imported at once.
import { defineLoop } from '../src/loop';
import { ArrClient } from '../src/transfers/arr';
import { recordedPath } from '../src/transfers/layout';
import { daemonTick, openDaemon, type Daemon } from './support/daemon';
import { remoteCall } from './support/remote-call';

let daemon: Daemon;
let arrs: ArrClient[] = [];

const LEASE_MS = 30_000;


export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
    const { sonarr, radarr } = daemon.config;
    arrs = [
      ...(sonarr ? [new ArrClient({ kind: 'sonarr', ...sonarr })] : []),
      ...(radarr ? [new ArrClient({ kind: 'radarr', ...radarr })] : []),
    ];
    if (arrs.length === 0) ctx.log.info({ event: 'arr.none' }, 'no Sonarr/Radarr configured: downloaded transfers count as imported');
  },
  tick: daemonTick(async (ctx) => {
    const { store, owner } = daemon;
    for (const t of await store.list({ state: 'downloaded' })) {
      if (ctx.signal.aborted) return;
      let by: string | undefined;
      if (arrs.length === 0) by = 'no-arr';
      for (const arr of arrs) {
        const found = await remoteCall(ctx.log, 'arr.check-failed', `asking ${arr.kind} about "${t.localName ?? t.name}" failed`,
          () => arr.findImport({ hash: t.hash, paths: [recordedPath(daemon.config.downloadDir, t)] }, ctx.signal));
        if (found?.imported) {
          by = `${arr.kind}:${found.matchedBy ?? 'hash'}`;
          break;
        }
      }
      if (!by) continue;
      if (!(await store.claim(t.id, owner, LEASE_MS))) continue;
      const moved = await store.transition(t.id, owner, 'downloaded', 'imported', {
        release: true,
        ...(by === 'no-arr' ? {} : {
          notify: {
            id: `transfer.imported:${t.id}`, event: 'transfer.imported' as const,
            payload: { name: t.localName ?? t.name, transferId: t.id, hash: t.hash, category: t.category, by },
          },
        }),
      });
      if (moved) ctx.log.info({ event: 'transfer.imported', transferId: t.id, name: t.localName ?? t.name, by }, `"${t.localName ?? t.name}" imported (${by})`);
    }
  }),
});

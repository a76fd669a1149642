// produce-transfers: list the seedbox's transfers under TARGET_LABEL, record
// every one (status, progress, ratio), and mark finished ones `queued`.
import { defineLoop } from '../src/loop';
import { openDaemon, type Daemon } from './support/daemon';
import { remoteCall } from './support/remote-call';

let daemon: Daemon;

export default defineLoop({
  async setup(ctx) {
    daemon = await openDaemon(ctx);
  },
  async tick(ctx) {
    const { client, store } = daemon;
    const remotes = await remoteCall(ctx.log, 'seedbox.list-failed', 'listing the seedbox failed', () => client.listTransfers(ctx.signal));
    if (!remotes) return;
    let queued = 0;
    for (const remote of remotes) {
      const { transfer, created, queued: isQueued } = await store.upsertRemote(client.kind, remote);
      if (created) ctx.log.info({ event: 'transfer.seen', transferId: transfer.id, name: remote.name, finished: remote.finished }, `new transfer "${remote.name}"`);
      if (isQueued) {
        queued++;
        ctx.log.info({ event: 'transfer.queued', transferId: transfer.id, name: remote.name }, `"${remote.name}" is finished on the seedbox: queued`);
      }
    }
    ctx.setStatus({ listed: remotes.length, queued });
  },
});

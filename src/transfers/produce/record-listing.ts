// The produce step: list the seedbox's transfers under TARGET_LABEL, record
// every one (status, progress, ratio), and mark the finished ones `queued`
// (the store's upsertRemote), for the download step to claim. A seedbox that
// refuses our credentials raises alert.auth-failed once (and resolves it when
// it accepts them again); any other remote problem is retried next poll.
import type { Logger } from 'pino';
import { clearAlert, raiseAlert } from '../alerts';
import { AuthError } from '../clients/errors';
import type { DownloadClient } from '../clients/types';
import { remoteCall } from '../net/remote-call';
import type { Store } from '../store/store';
import { FIRST_LISTING, firstListing } from './first-listing';

export interface Producer {
  store: Store;
  client: Pick<DownloadClient, 'kind' | 'listTransfers'>;
  /** FIRST_RUN: what the first listing of an empty store means (first-listing.ts). */
  firstRun: 'all' | 'new';
  log: Logger;
}

/** What a pass saw, for the loop's status(). undefined: the seedbox could not be listed. */
export interface ListingSeen {
  listed: number;
  queued: number;
}

export async function recordListing({ store, client, firstRun, log }: Producer, signal: AbortSignal): Promise<ListingSeen | undefined> {
  const remotes = await remoteCall(log, 'seedbox.list-failed', 'listing the seedbox failed', () => client.listTransfers(signal),
    async (err) => {
      if (err instanceof AuthError && (await raiseAlert(store, 'alert.auth-failed', client.kind, err.message))) {
        log.error({ event: 'alert.auth-failed', client: client.kind }, `the seedbox refused our credentials: alert sent, retrying every poll`);
      }
    });
  if (!remotes) return undefined;
  if (await clearAlert(store, 'alert.auth-failed', client.kind)) {
    log.info({ event: 'alert.auth-recovered', client: client.kind }, 'the seedbox accepts our credentials again');
  }
  if (!(await store.getMeta(FIRST_LISTING))) await firstListing(store, { client: client.kind, firstRun, log }, remotes);
  let queued = 0;
  for (const remote of remotes) {
    const { transfer, created, queued: isQueued } = await store.upsertRemote(client.kind, remote);
    if (created) log.info({ event: 'transfer.seen', transferId: transfer.id, name: remote.name, finished: remote.finished }, `new transfer "${remote.name}"`);
    if (isQueued) {
      queued++;
      log.info({ event: 'transfer.queued', transferId: transfer.id, name: remote.name }, `"${remote.name}" is finished on the seedbox: queued`);
    }
  }
  return { listed: remotes.length, queued };
}

// torrent-remove: Sonarr/Radarr are done with a torrent (imported, or removed
// by the user). It leaves the seedbox (unless seeding already ended there) and
// torrent-get; its local copy goes with delete-local-data, and otherwise only
// the .part files nobody will resume. Never without ids, never outside DOWNLOAD_DIR.
import { NotFoundError } from '../../clients/errors';
import { optionalBoolean, parseIds, RpcError, type RpcRequest } from '../envelope';
import { reportedLayout } from '../fields';
import { deleteLocalCopy } from '../local-data';
import { reportedStatus } from '../status';
import { chosenFor } from './candidates';
import type { RpcContext } from './context';
import { isSeedboxFailure } from './seedbox-failure';

export async function torrentRemove(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const { store, client, log, config } = ctx;
  const selector = parseIds(req.args.ids);
  // Transmission removes every torrent when ids is absent; one missing argument must not wipe a library.
  if (selector.kind !== 'some') throw new RpcError('torrent-remove needs ids (harvester does not remove every torrent, or every recent one, at once)');
  const deleteData = optionalBoolean(req.args, 'delete_local_data') ?? false;
  const chosen = await chosenFor(ctx, selector);
  const failures: string[] = [];
  for (const { transfer: t } of chosen) {
    // After seeding, watch-seeding already removed it (and its remote files) from the seedbox.
    if (t.state !== 'cleaned') {
      try {
        await client.removeTransfer(t.remoteId, { deleteData }, undefined);
      } catch (err) {
        if (!(err instanceof NotFoundError)) {
          if (!isSeedboxFailure(err)) throw err;
          log.warn({ event: 'transmission.remove-failed', transferId: t.id, err }, `torrent-remove: removing "${t.name}" from the seedbox failed`);
          failures.push(`"${t.name}": ${(err as Error).message}`);
          continue;
        }
      }
    }
    const wasDownloading = t.state === 'downloading' || t.state === 'queued';
    await store.markRemoved(t.id);
    const files = (await store.listFilesOf([t.id])).get(t.id) ?? [];
    const layout = reportedLayout(config.downloadDir, t, files);
    // The whole local copy with delete-local-data; otherwise only the .part files nobody will resume.
    const complete = reportedStatus(t).complete;
    const partialOnly = !deleteData;
    if (layout.ok && layout.files.length > 0 && (deleteData || !complete)) {
      const copy = { downloadDir: config.downloadDir, dir: layout.dir, name: layout.name, relPaths: layout.files.map((f) => f.relPath) };
      const outcome = await deleteLocalCopy(copy, { partialOnly });
      if (outcome.refused.length > 0) {
        log.warn({ event: 'transmission.delete-refused', transferId: t.id, paths: outcome.refused }, 'torrent-remove: not deleting paths that resolve outside DOWNLOAD_DIR');
      }
      // A download in flight stops at its next lease renewal; sweep again after it may have written more.
      if (wasDownloading) ctx.state.later(ctx.sweepDelayMs ?? 12_000, async () => void (await deleteLocalCopy(copy, { partialOnly })));
    }
    log.info(
      { event: 'transmission.torrent-removed', transferId: t.id, hash: t.hash, name: layout.name, deleteData },
      `torrent-remove: "${layout.name}" removed${deleteData ? ' with its data' : ''}`,
    );
  }
  if (failures.length > 0) {
    throw new RpcError(`torrent-remove: the seedbox refused ${failures.length} of ${chosen.length}: ${failures.join('; ')}`);
  }
  return {};
}

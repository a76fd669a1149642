// torrent-set: labels (the Category Sonarr/Radarr set after an import) and the
// per-torrent seed limits watch-seeding applies. location is refused: files
// land in DOWNLOAD_DIR[/category].
import type { TorrentSettings } from '../../store/store';
import { optionalNumber, optionalStringList, parseIds, RpcError, type RpcRequest } from '../envelope';
import { chosenFor } from './candidates';
import type { RpcContext } from './context';

function mode(args: Record<string, unknown>, key: string): number | undefined {
  const m = optionalNumber(args, key, { integer: true, min: 0 });
  if (m !== undefined && m > 2) throw new RpcError(`${key} must be 0 (global), 1 (this torrent's) or 2 (unlimited)`);
  return m;
}

export async function torrentSet(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const args = req.args;
  const selector = parseIds(args.ids);
  const labels = optionalStringList(args, 'labels');
  if (labels) {
    for (const label of labels) {
      if (label.includes(',')) throw new RpcError('labels cannot contain a comma');
      if (label.length > 256 || /[\u0000-\u001f\u007f]/.test(label)) throw new RpcError('labels must be at most 256 printable characters');
    }
  }
  const ratioLimit = optionalNumber(args, 'seed_ratio_limit', { min: 0 });
  const ratioMode = mode(args, 'seed_ratio_mode');
  const idleLimit = optionalNumber(args, 'seed_idle_limit', { integer: true, min: 0 });
  const idleMode = mode(args, 'seed_idle_mode');
  if (args.location !== undefined) throw new RpcError('torrent-set location is not supported by harvester: files land in DOWNLOAD_DIR[/category]');
  const chosen = await chosenFor(ctx, selector);
  for (const { transfer: t } of chosen) {
    const s: TorrentSettings = {};
    if (labels) s.categories = [...new Set(labels.map((l) => l.trim()).filter((l) => l !== ''))];
    // The stored limit is the one watch-seeding uses: only mode 1 keeps a transfer's own limit.
    if (ratioMode === 0 || ratioMode === 2) {
      s.seedRatioMode = ratioMode;
      s.seedRatioLimit = null;
    } else if (ratioMode === 1 || ratioLimit !== undefined) {
      s.seedRatioMode = 1;
      s.seedRatioLimit = ratioLimit ?? t.seedRatioLimit ?? ctx.config.seedRatio ?? 0;
    }
    if (idleLimit !== undefined) s.seedIdleLimit = idleLimit;
    if (idleMode !== undefined) s.seedIdleMode = idleMode;
    if (Object.keys(s).length === 0) continue;
    await ctx.store.setTorrentSettings(t.id, s);
    ctx.log.info({ event: 'transmission.torrent-set', transferId: t.id, hash: t.hash, ...s }, `torrent-set: "${t.name}" updated`);
  }
  return {};
}

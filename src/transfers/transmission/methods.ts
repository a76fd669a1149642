// The RPC methods, over a context {store, client, config, log}: no HTTP here,
// so every method is testable with a store and a client alone. This file is the
// dispatch table; each method lives in ./methods/<its Transmission name>.ts,
// and what they share (which transfers `ids` names) in ./methods/candidates.ts.
//
// The state reported comes from the store (produce-transfers records every
// transfer under the Label, in progress or not; the download loop records
// local progress), so torrent-get costs no remote call. Only torrent-add and
// torrent-remove talk to the seedbox, because that is what they are for.
import { parseIds, RpcError, type RpcRequest, type RpcResponse } from './envelope';
import { InvalidTorrentError } from './metainfo';
import type { RpcContext } from './methods/context';
import { freeSpace } from './methods/free-space';
import { queueMove } from './methods/queue-move';
import { sessionGet, sessionStats } from './methods/session';
import { torrentStart, torrentStop } from './methods/start-stop';
import { torrentAdd } from './methods/torrent-add';
import { torrentGet } from './methods/torrent-get';
import { torrentRemove } from './methods/torrent-remove';
import { torrentSet } from './methods/torrent-set';

export { RpcState, type RpcConfig, type RpcContext } from './methods/context';
export { RPC_VERSION, TRANSMISSION_VERSION } from './methods/session';
export { categoryOf } from './methods/torrent-add';
export { sampleRates } from './methods/torrent-get';

type Method = (ctx: RpcContext, req: RpcRequest) => Promise<Record<string, unknown>>;

/** Peer work that the seedbox does: nothing for harvester to do, but a success (transmission-remote sends them). */
const noOp: Method = async (_ctx, req) => {
  parseIds(req.args.ids); // still answer bad ids clearly
  return {};
};

/** Every method harvester answers, by its canonical (kebab-case) name. */
const METHODS: ReadonlyMap<string, Method> = new Map<string, Method>([
  ['session-get', sessionGet],
  ['session-stats', sessionStats],
  ['free-space', freeSpace],
  ['torrent-get', torrentGet],
  ['torrent-add', torrentAdd],
  ['torrent-remove', torrentRemove],
  ['torrent-set', torrentSet],
  ['torrent-start', (ctx, req) => torrentStart(ctx, req, false)],
  ['torrent-start-now', (ctx, req) => torrentStart(ctx, req, true)],
  ['torrent-stop', torrentStop],
  ['queue-move-top', (ctx, req) => queueMove(ctx, req, 'top')],
  ['queue-move-up', (ctx, req) => queueMove(ctx, req, 'up')],
  ['queue-move-down', (ctx, req) => queueMove(ctx, req, 'down')],
  ['queue-move-bottom', (ctx, req) => queueMove(ctx, req, 'bottom')],
  ['torrent-verify', noOp],
  ['torrent-reannounce', noOp],
]);

/** Transmission methods harvester knows but does not do: a clear answer rather than "not recognized". */
const UNSUPPORTED: Record<string, string> = {
  'session-set': 'session-set is not supported by harvester: it is configured through its environment (DOWNLOAD_DIR, SEED_RATIO, ...)',
  'torrent-set-location': 'torrent-set-location is not supported by harvester: files land in DOWNLOAD_DIR[/category]',
  'torrent-rename-path': 'torrent-rename-path is not supported by harvester: names come from the seedbox',
  'blocklist-update': 'blocklist-update is not supported by harvester (the seedbox does the peer work)',
  'port-test': 'port-test is not supported by harvester (the seedbox does the peer work)',
  'session-close': 'session-close is not supported by harvester: stop the daemon instead',
  'group-get': 'bandwidth groups are not supported by harvester',
  'group-set': 'bandwidth groups are not supported by harvester',
};

/** Handle one request. RpcError (and remote failures) become a `result` string; any other error is a bug and is thrown. */
export async function handleRpc(ctx: RpcContext, req: RpcRequest): Promise<RpcResponse> {
  const answer = (result: string, args?: Record<string, unknown>): RpcResponse => ({
    result,
    ...(args !== undefined ? { arguments: args } : {}),
    ...(req.tag !== undefined ? { tag: req.tag } : {}),
  });
  try {
    const method = METHODS.get(req.method);
    if (method) return answer('success', await method(ctx, req));
    // Own keys only: a method named after Object.prototype ("constructor") is not recognized either.
    if (Object.hasOwn(UNSUPPORTED, req.method)) throw new RpcError(UNSUPPORTED[req.method]!);
    throw new RpcError('method name not recognized');
  } catch (err) {
    if (err instanceof RpcError || err instanceof InvalidTorrentError) return answer(err.message);
    throw err;
  }
}

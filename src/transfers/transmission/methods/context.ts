// What every RPC method receives: the context {store, client, config, log} and
// the endpoint's memory between requests (RpcState). No HTTP here, so every
// method is testable with a store and a client alone.
import type { Logger } from 'pino';
import type { DownloadClient } from '../../clients/types';
import type { FolderOptions } from '../../folders';
import type { Store } from '../../store/store';

export interface RpcConfig {
  downloadDir: string;
  /** SEED_RATIO (settled); null: never removed for ratio. */
  seedRatio: number | null;
  maxParallel?: number;
  maxDownloadRateBytesPerSec?: number | null;
  /** UMASK and PUID/PGID for the Category folders torrent-add makes. */
  folders?: FolderOptions;
  /** STALL_TIMEOUT: a seedbox transfer without progress this long shows a warning; null or absent: never. */
  stallTimeoutMs?: number | null;
}

export interface RpcContext {
  store: Store;
  client: DownloadClient;
  config: RpcConfig;
  log: Logger;
  /** The current X-Transmission-Session-Id (session-get reports it). */
  sessionId: string;
  /** harvester's own version, shown in `version`. */
  version?: string;
  state: RpcState;
  now?: () => number;
  /** Wait before the second sweep of a removed transfer's `.part` files (a download may still be writing). Default 12 s. */
  sweepDelayMs?: number;
}

/** What the endpoint keeps between requests (in its worker's memory; nothing here must survive a restart). */
export class RpcState {
  private readonly samples = new Map<string, Array<{ bytes: number; at: number }>>();
  private readonly unknown = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly startedAt = Date.now();

  /** Record the stored progress of a downloading transfer (its write time `at`); returns its rate in bytes/s. */
  sample(id: string, bytes: number, at: number, now: number): number {
    let list = this.samples.get(id) ?? [];
    const last = list[list.length - 1];
    if (!last || last.at !== at) {
      if (last && bytes < last.bytes) list = []; // restarted from zero
      list.push({ bytes, at });
    }
    while (list.length > 2 && list[0]!.at < at - 60_000) list.shift();
    if (list.length > 32) list.splice(0, list.length - 32);
    this.samples.set(id, list);
    // Progress is written every ~2 s while bytes flow: nothing written for 15 s is a stall.
    if (now - at > 15_000 || list.length < 2) return 0;
    const first = list[0]!;
    const newest = list[list.length - 1]!;
    const seconds = (newest.at - first.at) / 1000;
    return seconds > 0 ? Math.max(0, (newest.bytes - first.bytes) / seconds) : 0;
  }

  /** Forget samples of transfers that are no longer downloading. */
  keepOnly(ids: Set<string>): void {
    for (const id of this.samples.keys()) if (!ids.has(id)) this.samples.delete(id);
  }

  /** true the first time a status is seen (so it is logged once). */
  firstSightOfUnknown(status: string): boolean {
    if (this.unknown.has(status)) return false;
    this.unknown.add(status);
    return true;
  }

  later(ms: number, fn: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void fn().catch(() => undefined);
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

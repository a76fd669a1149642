// DOWNLOAD_DIR's free space, as the download step sees it: a transfer starts
// only when what it still needs plus MIN_FREE_SPACE fits, and a full disk is one
// incident (one `disk.full` line and alert when it starts, one `disk.space-back`
// line and recovery when space is back), not a failure of every transfer.
import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { clearAlert, raiseAlert } from '../alerts';
import { errorText, type Store } from '../store/store';
import { DiskFullError } from './errors';

export interface DiskSpaceOptions {
  store: Store;
  downloadDir: string;
  /** MIN_FREE_SPACE: what must stay free after a download. */
  minFreeBytes: number;
  log: Logger;
  now: () => number;
  /** Free bytes on the filesystem of `dir` (injectable for tests); statfs otherwise. */
  freeSpace?: (dir: string) => Promise<number>;
}

export class DiskSpace {
  /** The open incident (for its alert and its recovery line). */
  private full: { since: number; neededBytes: number } | undefined;

  constructor(private readonly o: DiskSpaceOptions) {}

  /** Throws DiskFullError unless `remainingBytes` plus MIN_FREE_SPACE fit now. */
  async check(remainingBytes: number): Promise<void> {
    const needed = this.needed(remainingBytes);
    const free = await this.free();
    if (free < needed) throw new DiskFullError(needed, free);
  }

  /** What a transfer with `remainingBytes` to go needs free. */
  needed(remainingBytes: number): number {
    return Math.max(0, remainingBytes) + this.o.minFreeBytes;
  }

  /** Opens the incident unless one is open: a line at warn and the alert, once. */
  async filled(err: unknown, neededBytes: number, name: string, log: Logger): Promise<void> {
    if (this.full) return;
    this.full = { since: this.o.now(), neededBytes };
    log.warn({ event: 'disk.full', err, neededBytes }, `DOWNLOAD_DIR is too full for "${name}": downloads wait until space is back`);
    await raiseAlert(this.o.store, 'alert.disk-full', 'DOWNLOAD_DIR', errorText(err));
  }

  /** With an incident open: closes it once what the transfer needed is free again. true when it closed. */
  async isBack(): Promise<boolean> {
    const full = this.full;
    if (!full || (await this.free()) < full.neededBytes) return false;
    this.full = undefined;
    this.o.log.info({ event: 'disk.space-back', waitedMs: this.o.now() - full.since }, 'free space is back in DOWNLOAD_DIR: downloads resume');
    await clearAlert(this.o.store, 'alert.disk-full', 'DOWNLOAD_DIR');
    return true;
  }

  private async free(): Promise<number> {
    if (this.o.freeSpace) return this.o.freeSpace(this.o.downloadDir);
    const s = await statfs(this.o.downloadDir);
    return s.bavail * s.bsize;
  }
}

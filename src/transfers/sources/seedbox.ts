// A seedbox as the steps use it (the DownloadClient): a Transfer Source for
// which transfers and files exist, a File Transport for their bytes. The file
// the client reports is read at its mapped path (remote-path.ts) and checked
// before and after: a file whose size is not the listed one, or that changed
// while it was read, is never taken as the listed file's bytes.
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import type { AddRequest, DownloadClient, RangeBytes } from '../clients/types';
import { NotFoundError, RestartFromZeroError, SourceChangedError } from '../clients/errors';
import type { ClientKind, RemoteFile, RemoteTransfer } from '../model';
import type { EntryInfo, FileTransport } from '../transports/types';
import { transportPath, type RemoteRoot } from './remote-path';
import type { TransferSource } from './types';

export interface SourceSeedboxOptions {
  source: TransferSource;
  transport: FileTransport;
  /** `remoteRoot: undefined`: FILES_REMOTE_ROOT unset, the client's default save folder (asked once). */
  root: { remoteRoot: string | null | undefined; transportRoot: string };
}

export class SourceSeedbox implements DownloadClient {
  readonly kind: ClientKind;
  readonly readHost: string;
  readonly addTransfer?: (req: AddRequest, signal?: AbortSignal) => Promise<RemoteTransfer>;

  private root: Promise<RemoteRoot> | undefined;

  constructor(private readonly o: SourceSeedboxOptions) {
    this.kind = o.source.kind;
    this.readHost = o.transport.describe;
    if (o.source.addTransfer) this.addTransfer = (req, signal) => o.source.addTransfer!(req, signal);
  }

  listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]> {
    return this.o.source.listTransfers(signal);
  }

  listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]> {
    return this.o.source.listFiles(transfer, signal);
  }

  async openFile(file: RemoteFile, offset: number, signal?: AbortSignal): Promise<Readable> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`openFile: bad offset ${offset}`);
    if (offset > file.size) {
      throw new RestartFromZeroError(`read: partial copy (${offset} bytes) is longer than the file (${file.size})`, { operation: 'read', offset });
    }
    return this.readRange(file, { offset, end: file.size }, signal);
  }

  async readRange(file: RemoteFile, range: { offset: number; end: number; version?: string }, signal?: AbortSignal): Promise<RangeBytes> {
    const operation = `${this.o.transport.describe} read`;
    const path = await this.pathOf(file, signal);
    if (this.o.transport.canStat === false) {
      // Plain HTTP: nothing to stat; the download step checks the size it wrote against the listed one.
      if (range.offset >= range.end) return Readable.from([]);
      return this.o.transport.read(path, { offset: range.offset, end: range.end, ...(signal ? { signal } : {}) });
    }
    const before = await this.o.transport.stat(path, signal);
    this.checkListed(file, before, operation);
    // The copy the earlier ranges came from: another mtime is another file, whatever its size.
    const version = `${before.size}:${before.mtimeMs}`;
    if (range.version !== undefined && range.version !== version) {
      throw new SourceChangedError(`${operation}: "${file.path.slice(0, 200)}" changed between ranges`, { operation });
    }
    if (range.offset >= range.end) return Object.assign(Readable.from([]), { version });
    const bytes = await this.o.transport.read(path, { offset: range.offset, end: range.end, ...(signal ? { signal } : {}) });
    // After the last byte: the file the range came from must still be the one listed.
    const guard = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        cb(null, chunk);
      },
      flush: (cb) => {
        this.o.transport.stat(path, signal).then((after) => {
          if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
            return cb(new SourceChangedError(`${operation}: "${file.path.slice(0, 200)}" changed while it was read`, { operation }));
          }
          cb();
        }, cb);
      },
    });
    return Object.assign(pipeline(bytes, guard, () => undefined), { version });
  }

  async removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void> {
    const left = await this.o.source.removeTransfer(remoteId, opts, signal);
    if (!opts.deleteData || !left) return;
    // The client kept the data (rTorrent's d.erase): delete it through the transport, never outside the root.
    const root = await this.rootOf(signal);
    for (const reported of left.leftOnSeedbox) await this.o.transport.remove(transportPath(reported, root), signal);
  }

  /** `harvester check`: the source's own line, then the transport's: who it trusted, and a test read of the folder the files come from. */
  async check(signal?: AbortSignal): Promise<string> {
    const source = (await this.o.source.check?.(signal)) ?? this.kind;
    const identity = await this.o.transport.identify?.(signal);
    const root = await this.rootOf(signal);
    // Plain HTTP lists nothing (canStat false): its check is the source's and the transport's own lines.
    const folder = root.remoteRoot === null || this.o.transport.canStat === false ? null : root.transportRoot;
    const read = folder === null ? '' : `; ${folder}: ${(await this.o.transport.list(folder, signal)).length} entries`;
    return `${source}; files from ${this.o.transport.describe}${identity ? `, ${identity}` : ''}${read}`;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.o.source.close?.(), this.o.transport.close()]);
  }

  private async pathOf(file: RemoteFile, signal?: AbortSignal): Promise<string> {
    if (!file.remotePath) throw new NotFoundError(`"${file.path.slice(0, 200)}": its path on the seedbox is missing (the client reported none)`, { operation: 'read' });
    return transportPath(file.remotePath, await this.rootOf(signal));
  }

  /** FILES_REMOTE_ROOT, or the client's default save folder when it is unset (asked once; asked again after a failure). */
  private rootOf(signal?: AbortSignal): Promise<RemoteRoot> {
    const { remoteRoot, transportRoot } = this.o.root;
    if (remoteRoot !== undefined) return Promise.resolve({ remoteRoot, transportRoot });
    if (!this.o.source.defaultSaveDir) return Promise.resolve({ remoteRoot: null, transportRoot });
    this.root ??= this.o.source.defaultSaveDir(signal).then(
      (dir) => ({ remoteRoot: dir, transportRoot }),
      (err: unknown) => {
        this.root = undefined;
        throw err;
      },
    );
    return this.root;
  }

  private checkListed(file: RemoteFile, info: EntryInfo, operation: string): void {
    if (info.type !== 'file') throw new NotFoundError(`${operation}: "${file.path.slice(0, 200)}" is not a file`, { operation });
    // The client lists a finished torrent's sizes; another size is another file (or one still being written).
    if (info.size !== file.size) {
      throw new SourceChangedError(`${operation}: "${file.path.slice(0, 200)}" has ${info.size} bytes, the client lists ${file.size}`, { operation });
    }
  }
}

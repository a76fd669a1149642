// A Transfer Source (DESIGN.md 7): which transfers a seedbox's torrent client
// holds under TARGET_LABEL, their files as the client stores them, and how to
// add and remove them. It does not read bytes: a File Transport does that
// (transports/types.ts), and SourceSeedbox (seedbox.ts) puts the two together
// into the DownloadClient the steps use. Errors are those of clients/errors.ts.
import type { AddRequest } from '../clients/types';
import type { ClientKind, RemoteFile, RemoteTransfer } from '../model';

export interface TransferSource {
  readonly kind: ClientKind;
  /** Transfers under TARGET_LABEL, finished or not, with progress, ratio and info-hash. */
  listTransfers(signal?: AbortSignal): Promise<RemoteTransfer[]>;
  /**
   * The files of a transfer: `path` is the File Name under the transfer (the
   * root folder kept for a folder torrent), `remotePath` the absolute path on
   * the seedbox the client reports (what the transport reads).
   */
  listFiles(transfer: RemoteTransfer, signal?: AbortSignal): Promise<RemoteFile[]>;
  /**
   * Remove the transfer from the client; with deleteData its files too, through
   * the client where it can. Returns the remote paths the caller must still
   * delete through the transport (rTorrent's d.erase keeps the data), or nothing.
   */
  removeTransfer(remoteId: string, opts: { deleteData: boolean }, signal?: AbortSignal): Promise<void | { leftOnSeedbox: string[] }>;
  /** Add a transfer (the Transmission endpoint's torrent-add), under TARGET_LABEL. */
  addTransfer?(req: AddRequest, signal?: AbortSignal): Promise<RemoteTransfer>;
  /** `harvester check`: the client and its version, the label, how many transfers; or a typed error. */
  check?(signal?: AbortSignal): Promise<string>;
  /** The client's default save folder, for FILES_REMOTE_ROOT's default. */
  defaultSaveDir?(signal?: AbortSignal): Promise<string>;
  close?(): Promise<void>;
}

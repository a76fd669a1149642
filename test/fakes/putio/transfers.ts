// The account's transfers. A transfer points into the file tree (save_parent_id,
// file_id); its files appear there only once its status is finished, under a
// stored name that may differ from the transfer's (collision suffix).
import { createHash } from 'node:crypto';
import { fileNode, stamp, type FileTree } from './files';
import type { FakeFileSpec, FakeTransfer, FakeTransferSpec } from './types';

export const FINISHED = new Set(['COMPLETED', 'SEEDING']);

export type TransferPatch = Partial<Pick<FakeTransferSpec, 'status' | 'percentDone' | 'downloaded' | 'uploaded' | 'currentRatio' | 'errorMessage' | 'estimatedTime'>>;

export class TransferBook {
  readonly transfers = new Map<number, FakeTransfer>();
  private nextTransferId = 1;

  /** `labelFolderId`: where a transfer is saved when its spec names no label. */
  constructor(private readonly tree: FileTree, private readonly labelFolderId: number | null) {}

  get(id: number): FakeTransfer | undefined {
    return this.transfers.get(id);
  }

  /** Oldest first, as put.io lists them. */
  all(): FakeTransfer[] {
    return [...this.transfers.values()].sort((a, b) => a.id - b.id);
  }

  delete(id: number): boolean {
    return this.transfers.delete(id);
  }

  add(spec: FakeTransferSpec): FakeTransfer {
    const status = spec.status ?? 'COMPLETED';
    let saveParentId = this.labelFolderId ?? 0;
    if (spec.label === null) saveParentId = 0;
    else if (spec.label !== undefined) saveParentId = this.tree.folderByName(spec.label)?.id ?? this.tree.addFolder(spec.label, 0);
    const files = spec.files ?? [];
    const t: FakeTransfer = {
      id: this.nextTransferId++,
      name: spec.name,
      status,
      hash: spec.hash === undefined ? createHash('sha1').update(`fake:${spec.name}:${this.nextTransferId}`).digest('hex') : spec.hash,
      percentDone: spec.percentDone ?? (FINISHED.has(status) ? 100 : 0),
      size: files.reduce((sum, f) => sum + Buffer.byteLength(f.content), 0),
      downloaded: spec.downloaded ?? 0,
      uploaded: spec.uploaded ?? 0,
      currentRatio: spec.currentRatio,
      errorMessage: spec.errorMessage ?? null,
      fileId: null,
      saveParentId,
      source: spec.source ?? 'magnet:?xt=urn:btih:test',
      type: spec.type ?? 'TORRENT',
      estimatedTime: spec.estimatedTime ?? (FINISHED.has(status) ? -1 : 120),
      createdAt: stamp(),
      pending: {
        files,
        keepDownloaded: spec.downloaded !== undefined,
        ...(spec.storedName !== undefined ? { storedName: spec.storedName } : {}),
      },
    };
    this.transfers.set(t.id, t);
    if (FINISHED.has(status)) this.materialize(t);
    return t;
  }

  update(id: number, patch: TransferPatch): void {
    const t = this.transfers.get(id);
    if (!t) throw new Error(`fake put.io: no transfer ${id}`);
    if (patch.status !== undefined) t.status = patch.status;
    if (patch.percentDone !== undefined) t.percentDone = patch.percentDone;
    if (patch.downloaded !== undefined) t.downloaded = patch.downloaded;
    if (patch.uploaded !== undefined) t.uploaded = patch.uploaded;
    if (patch.currentRatio !== undefined) t.currentRatio = patch.currentRatio;
    if (patch.errorMessage !== undefined) t.errorMessage = patch.errorMessage;
    if (patch.estimatedTime !== undefined) t.estimatedTime = patch.estimatedTime;
    if (FINISHED.has(t.status)) this.materialize(t);
  }

  /** A transfer added through the API (transfers/add, a .torrent upload): queued, no files yet. */
  addQueued(name: string, saveParentId: number, source: string, hash: string | null): FakeTransfer {
    const t: FakeTransfer = {
      id: this.nextTransferId++,
      name,
      status: 'IN_QUEUE',
      hash,
      percentDone: 0,
      size: 0,
      downloaded: 0,
      uploaded: 0,
      currentRatio: undefined,
      errorMessage: null,
      fileId: null,
      saveParentId,
      source,
      type: 'TORRENT',
      estimatedTime: -1,
      createdAt: stamp(),
    };
    this.transfers.set(t.id, t);
    return t;
  }

  /** Files of a transfer with their stored paths (root name included). */
  filesOf(transferId: number): { id: number; path: string; size: number; content: Buffer }[] {
    const t = this.transfers.get(transferId);
    return t?.fileId ? this.tree.filesUnder(t.fileId) : [];
  }

  /** Put a transfer's files into the account under its save folder. */
  private materialize(t: FakeTransfer): void {
    if (!t.pending || t.pending.files.length === 0) return;
    const { files, storedName, keepDownloaded } = t.pending;
    delete t.pending;
    const tree = this.tree;
    const split = files.map((f) => ({ spec: f, parts: f.path.split('/').filter(Boolean) }));
    const roots = new Set(split.map((s) => s.parts[0]));
    const isFolderTransfer = split.some((s) => s.parts.length > 1);
    if (isFolderTransfer && roots.size !== 1) throw new Error('fake put.io: a folder transfer needs one root folder');
    if (!isFolderTransfer && files.length !== 1) throw new Error('fake put.io: several bare files need a root folder');
    const rootName = tree.uniqueName(t.saveParentId, storedName ?? (split[0]?.parts[0] as string), isFolderTransfer);
    if (!isFolderTransfer) {
      const spec = files[0] as FakeFileSpec;
      const root = tree.add(fileNode(spec, rootName, t.saveParentId));
      t.fileId = root.id;
    } else {
      const root = tree.add({ name: rootName, parentId: t.saveParentId, isDir: true, fileType: 'FOLDER' });
      t.fileId = root.id;
      for (const { spec, parts } of split) {
        let parent = root.id;
        for (const dir of parts.slice(1, -1)) {
          parent = (tree.childrenOf(parent).find((n) => n.isDir && n.name === dir) ?? tree.add({ name: dir, parentId: parent, isDir: true, fileType: 'FOLDER' })).id;
        }
        tree.add(fileNode(spec, parts[parts.length - 1] as string, parent));
      }
    }
    t.size = tree.totalSize(t.fileId);
    if (!keepDownloaded) t.downloaded = t.size;
    t.percentDone = 100;
  }
}

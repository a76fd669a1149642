// The JSON shapes put.io answers with (peers-and-protocols C): a file or folder,
// a transfer (current_ratio verbatim, or as a string under ratioAsString: C.5),
// and the paged listings with their cursors (files/list, transfers/list, .../continue).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FileTree } from './files';
import { ok } from './http';
import { contentTypeOf } from './names';
import { FINISHED, type TransferBook } from './transfers';
import type { FakeNode, FakeTransfer, Fault } from './types';

const DIR_TYPE = 'application/x-directory';

export type ListingKind = 'files' | 'transfers';

export class Shapes {
  private readonly cursors = new Map<string, { kind: ListingKind; parentId: number; offset: number; perPage: number }>();

  constructor(private readonly tree: FileTree, private readonly book: TransferBook, private readonly ratioAsString: boolean) {}

  fileJson(node: FakeNode): Record<string, unknown> {
    const size = node.isDir ? this.tree.totalSize(node.id) : node.reportedSize ?? node.content?.length ?? 0;
    const ext = node.isDir ? null : node.name.includes('.') ? node.name.slice(node.name.lastIndexOf('.') + 1) : null;
    return {
      id: node.id,
      name: node.name,
      size,
      parent_id: node.parentId,
      content_type: node.isDir ? DIR_TYPE : contentTypeOf(node.name),
      file_type: node.fileType,
      crc32: node.isDir ? null : node.crc32 ?? null,
      extension: ext,
      created_at: node.createdAt,
      updated_at: node.createdAt,
      first_accessed_at: null,
      is_mp4_available: false,
      is_shared: false,
      is_hidden: false,
      folder_type: 'REGULAR',
      icon: 'https://fake.put.io/icon.png',
      screenshot: null,
      opensubtitles_hash: null,
    };
  }

  transferJson(t: FakeTransfer): Record<string, unknown> {
    const seedingLike = ['SEEDING', 'COMPLETED', 'PREPARING_SEED'].includes(t.status);
    const computed = t.downloaded > 0 ? Math.round((t.uploaded / t.downloaded) * 100) / 100 : 0;
    let ratio: unknown = t.currentRatio !== undefined ? t.currentRatio : seedingLike ? computed : null;
    if (this.ratioAsString && typeof ratio === 'number') ratio = ratio.toFixed(2);
    return {
      id: t.id,
      hash: t.hash,
      name: t.name,
      size: t.size,
      downloaded: t.downloaded,
      uploaded: t.uploaded,
      current_ratio: ratio,
      seconds_seeding: seedingLike ? 3600 : null,
      percent_done: t.percentDone,
      completion_percent: t.percentDone,
      estimated_time: t.estimatedTime,
      down_speed: t.status === 'DOWNLOADING' ? 1048576 : 0,
      up_speed: 0,
      status: t.status,
      type: t.type,
      error_message: t.errorMessage,
      finished_at: FINISHED.has(t.status) ? t.createdAt : null,
      started_at: t.createdAt,
      created_at: t.createdAt,
      file_id: t.fileId,
      save_parent_id: t.saveParentId,
      userfile_exists: t.fileId !== null && this.tree.has(t.fileId),
      source: t.source,
      magneturi: t.source.startsWith('magnet:') ? t.source : null,
      peers_connected: 5,
      peers_getting_from_us: 1,
      peers_sending_to_us: 3,
      availability: 100,
      tracker: null,
      tracker_message: null,
      callback_url: null,
      client_ip: null,
      is_private: false,
      simulated: false,
      download_id: null,
      subscription_id: null,
      torrent_link: `/v2/transfers/${t.id}/torrent`,
    };
  }

  /** The cursor handed out by an earlier page, used up (a cursor serves once). */
  takeCursor(cursor: string): { kind: ListingKind; parentId: number; offset: number; perPage: number } | undefined {
    const found = this.cursors.get(cursor);
    this.cursors.delete(cursor);
    return found;
  }

  /** One page of a listing from `offset`, with a cursor for the rest when there is more. */
  pageOut(res: ServerResponse, kind: ListingKind, parentId: number, offset: number, perPage: number, fault: Fault | undefined): void {
    const all: unknown[] =
      kind === 'files'
        ? this.tree.childrenOf(parentId).map((n) => this.fileJson(n))
        : this.book.all().map((t) => this.transferJson(t));
    const page = all.slice(offset, offset + perPage);
    let cursor: string | null = null;
    if (offset + perPage < all.length) {
      cursor = randomBytes(9).toString('base64url');
      this.cursors.set(cursor, { kind, parentId, offset: offset + perPage, perPage });
    }
    if (kind === 'transfers') return ok(res, { transfers: page, cursor, total: all.length }, fault);
    const parent = parentId === 0 ? { id: 0, name: 'root', size: 0, parent_id: null, content_type: DIR_TYPE, file_type: 'FOLDER', crc32: null } : this.fileJson(this.tree.get(parentId) as FakeNode);
    return ok(res, { files: page, parent, cursor, total: all.length, breadcrumbs: [] }, fault);
  }
}

// /v2/files/*: a folder's listing (paged; per_page capped at 1000), one file,
// its signed download URL, delete (skip_nonexistents), create-folder, upload
// (a .torrent becomes a queued transfer, anything else a file).
import { uploadedNode } from '../files';
import { ok, sendError } from '../http';
import { extractTorrentName } from '../names';
import { signature, type Route } from '../context';
import type { FakeNode } from '../types';

export const fileRoutes: Record<string, Route> = {
  'GET /v2/files/list': ({ tree, shapes, defaultPerPage }, { query }, res, fault) => {
    const parentId = query.parent_id === undefined ? 0 : Number(query.parent_id);
    if (!Number.isInteger(parentId)) return sendError(res, 400, 'INVALID_PARENT', 'parent_id must be an integer');
    if (parentId !== 0 && !tree.isFolder(parentId)) return sendError(res, 404, 'NOT_FOUND', 'File not found');
    const perPage = Math.min(1000, Math.max(1, Number(query.per_page ?? defaultPerPage)));
    return shapes.pageOut(res, 'files', parentId, 0, perPage, fault);
  },
  'GET /v2/files/:id': ({ tree, shapes }, { id }, res, fault) => {
    const node = tree.get(id);
    if (!node) return sendError(res, 404, 'NOT_FOUND', 'File not found');
    return ok(res, { file: shapes.fileJson(node) }, fault);
  },
  'GET /v2/files/:id/url': ({ tree, token, fake }, { id }, res, fault) => {
    const node = tree.get(id);
    if (!node) return sendError(res, 404, 'NOT_FOUND', 'File not found');
    if (node.isDir) return sendError(res, 400, 'IS_FOLDER', 'Folders have no download URL');
    return ok(res, { url: `${fake.url}/download/${id}?sig=${signature(token, id)}` }, fault);
  },
  'POST /v2/files/delete': ({ tree, fake }, { query, form }, res, fault) => {
    const skip = query.skip_nonexistents === 'true';
    const ids = (form.file_ids ?? '').split(',').filter(Boolean).map(Number);
    const missing = ids.filter((f) => !tree.has(f));
    if (missing.length > 0 && !skip) return sendError(res, 404, 'NOT_FOUND', 'File not found');
    for (const fid of ids) tree.removeTree(fid);
    fake.deletedFiles.push(...ids.filter((f) => !missing.includes(f)));
    return ok(res, { skipped: missing.length }, fault);
  },
  'POST /v2/files/create-folder': ({ tree, shapes }, { form }, res, fault) => {
    const parentId = Number(form.parent_id ?? 0);
    if (!form.name) return sendError(res, 400, 'EMPTY_NAME', 'name is required');
    if (parentId !== 0 && !tree.isFolder(parentId)) return sendError(res, 404, 'NOT_FOUND', 'parent not found');
    const folderId = tree.addFolder(tree.uniqueName(parentId, form.name, true), parentId);
    return ok(res, { file: shapes.fileJson(tree.get(folderId) as FakeNode) }, fault);
  },
  'POST /v2/files/upload': ({ tree, book, shapes, fake }, { form, body }, res, fault) => {
    const file = body.files.find((f) => f.name === 'file');
    if (!file) return sendError(res, 400, 'NO_FILE', 'file is required');
    const parentId = Number(form.parent_id ?? 0);
    fake.uploads.push({ parentId, filename: file.filename, bytes: file.bytes.length });
    if (/\.torrent$/i.test(file.filename) && file.bytes[0] === 0x64) {
      const name = extractTorrentName(file.bytes) ?? file.filename.replace(/\.torrent$/i, '');
      const t = book.addQueued(name, parentId, `torrent:${file.filename}`, null);
      return ok(res, { file: null, transfer: shapes.transferJson(t) }, fault);
    }
    const node = tree.add(uploadedNode(tree.uniqueName(parentId, file.filename, false), parentId, file.bytes, file.filename));
    return ok(res, { file: shapes.fileJson(node), transfer: null }, fault);
  },
};

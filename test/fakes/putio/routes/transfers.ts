// /v2/transfers/*: list (whole, or paged with per_page and continued by cursor),
// one transfer, add (de-duplicated by URL, C.5), cancel and remove.
import { ok, sendError } from '../http';
import { hashFromMagnet, nameFromUrl } from '../names';
import type { Route } from '../context';

export const transferRoutes: Record<string, Route> = {
  'GET /v2/transfers/list': ({ book, shapes }, { query }, res, fault) => {
    const all = book.all();
    const perPage = query.per_page ? Number(query.per_page) : undefined;
    if (!perPage) return ok(res, { transfers: all.map((t) => shapes.transferJson(t)), cursor: null, total: all.length }, fault);
    return shapes.pageOut(res, 'transfers', 0, 0, perPage, fault);
  },
  // The files listing's continuation shares the cursor table: answered here for both.
  'POST /v2/transfers/list/continue': (ctx, call, res, fault) => continueListing(ctx, call, res, fault),
  'POST /v2/files/list/continue': (ctx, call, res, fault) => continueListing(ctx, call, res, fault),
  'GET /v2/transfers/:id': ({ book, shapes }, { id }, res, fault) => {
    const t = book.get(id);
    if (!t) return sendError(res, 404, 'TRANSFER_NOT_FOUND', 'Transfer not found');
    return ok(res, { transfer: shapes.transferJson(t) }, fault);
  },
  'POST /v2/transfers/add': ({ book, tree, shapes, fake }, { form }, res, fault) => {
    const url = form.url ?? '';
    if (!url) return sendError(res, 400, 'EMPTY_URL', 'No URL given');
    const saveParentId = Number(form.save_parent_id ?? 0);
    if (saveParentId !== 0 && !tree.isFolder(saveParentId)) return sendError(res, 404, 'NOT_FOUND', 'save folder not found');
    fake.added.push({ url, saveParentId });
    // put.io de-duplicates: the same release added twice is the same transfer (C.5).
    const existing = [...book.transfers.values()].find((t) => t.source === url);
    if (existing) return ok(res, { transfer: shapes.transferJson(existing) }, fault);
    const t = book.addQueued(nameFromUrl(url), saveParentId, url, hashFromMagnet(url));
    return ok(res, { transfer: shapes.transferJson(t) }, fault);
  },
  'POST /v2/transfers/cancel': (ctx, call, res, fault) => removeTransfers(ctx, call, res, fault),
  'POST /v2/transfers/remove': (ctx, call, res, fault) => removeTransfers(ctx, call, res, fault),
};

const continueListing: Route = ({ shapes }, { form, query }, res, fault) => {
  const cursor = shapes.takeCursor(form.cursor ?? '');
  if (!cursor) return sendError(res, 400, 'INVALID_CURSOR', 'cursor is not valid');
  const perPage = query.per_page ? Number(query.per_page) : cursor.perPage;
  return shapes.pageOut(res, cursor.kind, cursor.parentId, cursor.offset, perPage, fault);
};

const removeTransfers: Route = ({ book, fake }, { form }, res, fault) => {
  for (const raw of (form.transfer_ids ?? '').split(',').filter(Boolean)) {
    const tid = Number(raw);
    if (book.delete(tid)) fake.cancelled.push(tid);
  }
  return ok(res, {}, fault);
};

// A loopback put.io: a real HTTP server (node:http, port 0) answering like the
// documented API v2 (peers-and-protocols.md C, with the C.5 quirks), so that
// the real client, downloader and loops are tested over real sockets.
//
// Model: an account tree of files and folders (root id 0, a Label folder at
// the root), and transfers that point into it (save_parent_id, file_id).
// Stored names may differ from transfer names (collision suffix " ojqRfI77").
// Fault switches (inject / failNext / rateLimitNext / ...) apply to the next N
// matching requests, so tests say exactly which call breaks and how.
//
// This file wires the parts in test/fakes/putio/: the state (files.ts,
// transfers.ts, oob.ts), the JSON shapes and listings (json.ts), one module of
// routes per endpoint area (routes/), the faults on the shared FaultQueue
// (faults.ts), the request log (requests.ts) and the server (server.ts).
import { randomBytes } from 'node:crypto';
import { FaultQueue } from './faults';
import type { PutioContext } from './putio/context';
import { faultSwitches } from './putio/faults';
import { FileTree } from './putio/files';
import { Shapes } from './putio/json';
import { OobCodes } from './putio/oob';
import { RequestLog } from './putio/requests';
import { listen } from './putio/server';
import { TransferBook } from './putio/transfers';
import type { FakePutio, FakePutioOptions, Fault } from './putio/types';

export type {
  FakeFileSpec,
  FakeNode,
  FakePutio,
  FakePutioOptions,
  FakeTransfer,
  FakeTransferSpec,
  Fault,
  FaultKind,
  RecordedRequest,
  ServedRange,
} from './putio/types';

export async function startFakePutio(opts: FakePutioOptions = {}): Promise<FakePutio> {
  const token = opts.token ?? `tok-${randomBytes(12).toString('hex')}`;
  const tree = new FileTree();
  const labelFolderId = opts.label === '' ? null : tree.addFolder(opts.label ?? 'harvester', 0);
  const book = new TransferBook(tree, labelFolderId);
  const oob = new OobCodes();
  const faults = new FaultQueue<Fault>();
  const log = new RequestLog();

  const fake: FakePutio = {
    ...faultSwitches(faults),
    // Known once the server listens, below.
    url: '',
    uploadUrl: '',
    close: async () => undefined,
    token,
    labelFolderId,
    requests: log.requests,
    cancelled: [],
    deletedFiles: [],
    added: [],
    uploads: [],
    oobCodes: oob.issued,
    linkOob: (code) => oob.link(code),
    expireOob: (code) => oob.expire(code),
    addFolder: (name, parentId = 0) => tree.addFolder(name, parentId),
    addTransfer: (spec) => {
      const t = book.add(spec);
      return { ...t, files: book.filesOf(t.id).map(({ id, path, size }) => ({ id, path, size })) };
    },
    updateTransfer: (id, patch) => book.update(id, patch),
    transfer: (id) => book.get(id),
    node: (id) => tree.get(id),
    filesOf: (transferId) => book.filesOf(transferId),
    setReportedSize: (fileId, size) => {
      const node = tree.get(fileId);
      if (node) node.reportedSize = size;
    },
    setDownloadStatus: (fileId, status) => {
      const node = tree.get(fileId);
      if (!node) return;
      if (status === undefined) delete node.downloadStatus;
      else node.downloadStatus = status;
    },
    served: [],
    downloadRate: 0,
    replaceContent: (fileId, content) => {
      const node = tree.get(fileId);
      if (!node) return;
      node.content = content;
      node.version = (node.version ?? 0) + 1;
    },
    calls: (key) => log.calls(key),
    waitForCalls: (key, count) => log.waitForCalls(key, count),
  };

  const ctx: PutioContext = { opts, token, defaultPerPage: opts.defaultPerPage ?? 1000, tree, book, oob, faults, shapes: new Shapes(tree, book, opts.ratioAsString === true), fake };
  const server = await listen(ctx, log);
  fake.url = server.url;
  fake.uploadUrl = server.url;
  fake.close = server.close;
  return fake;
}

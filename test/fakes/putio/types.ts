// The put.io fake's vocabulary: what a test describes (specs), what the fake
// holds (nodes, transfers), the faults it can inject, and the handle a test gets.

export interface FakeFileSpec {
  /** Path inside the transfer: "Show/S01/e1.mkv" or "movie.mkv". */
  path: string;
  content: Buffer | string;
  /** Override the CRC32 put.io reports (null = report none). */
  crc32?: string | null;
  fileType?: string;
}

export interface FakeTransferSpec {
  /** The transfer's name (cosmetic; may differ from what is stored). */
  name: string;
  /** put.io status, default COMPLETED. Files appear in the account once the status is finished. */
  status?: string;
  files?: FakeFileSpec[];
  /** Stored name of the root entry (file or folder), when it differs from the files' root. */
  storedName?: string;
  /** Folder (by name, at the root) to save into; default the fake's label; null = the account root. */
  label?: string | null;
  hash?: string | null;
  percentDone?: number;
  downloaded?: number;
  uploaded?: number;
  /** Verbatim current_ratio (number, string, or null): the C.5 type instability. */
  currentRatio?: number | string | null;
  errorMessage?: string | null;
  source?: string;
  type?: string;
  estimatedTime?: number;
}

export interface FakeNode {
  id: number;
  name: string;
  parentId: number;
  isDir: boolean;
  content?: Buffer;
  crc32?: string | null;
  fileType: string;
  /** What listings report as size; differs from content.length under a "wrong size" fault. */
  reportedSize?: number;
  /** Serve this HTTP status instead of the bytes. */
  downloadStatus?: number;
  /** Bumped by replaceContent: the ETag and Last-Modified change with it. */
  version?: number;
  createdAt: string;
}

export interface FakeTransfer {
  id: number;
  name: string;
  status: string;
  hash: string | null;
  percentDone: number;
  size: number;
  downloaded: number;
  uploaded: number;
  currentRatio: number | string | null | undefined;
  errorMessage: string | null;
  fileId: number | null;
  saveParentId: number;
  source: string;
  type: string;
  estimatedTime: number;
  createdAt: string;
  /** Files not yet in the account (an unfinished transfer). */
  pending?: { files: FakeFileSpec[]; storedName?: string; keepDownloaded?: boolean };
}

export type FaultKind =
  /** Answer with `status` and a put.io error envelope. */
  | 'status'
  /** 429 with Retry-After (`retryAfter`, default "1") and x-ratelimit-* headers. */
  | 'rate-limit'
  /** 200 with a body that is not JSON. */
  | 'malformed'
  /** 200 with a JSON body that parses but lacks the documented fields. */
  | 'wrong-shape'
  /** Declare the full Content-Length, send half the body, hang up. */
  | 'truncate'
  /** Accept the request and never answer. */
  | 'stall'
  /** Downloads: send `afterBytes` bytes of the body, then hang up. */
  | 'drop'
  /** Downloads: send `afterBytes` bytes of the body, then go silent (socket kept open). */
  | 'stall-body'
  /** Downloads: answer 200 with the whole file to a ranged request. */
  | 'ignore-range';

export interface Fault {
  kind: FaultKind;
  /** How many matching requests it applies to (default 1). */
  times?: number;
  /** Endpoint key ("GET /v2/transfers/list", "GET /download/:id") or a RegExp over it; default: any. */
  match?: string | RegExp;
  status?: number;
  retryAfter?: string;
  afterBytes?: number;
}

export interface RecordedRequest {
  method: string;
  /** Endpoint key: numbers replaced by :id, e.g. "GET /v2/files/:id/url". */
  key: string;
  path: string;
  query: Record<string, string>;
  form?: Record<string, string>;
  range?: string;
  authorized: boolean;
}

/** One answer of GET /download/:id: what was asked and how much of it went out. */
export interface ServedRange {
  fileId: number;
  start: number;
  /** One past the last byte of the answer. */
  end: number;
  status: number;
  /** The request carried a Range header. */
  ranged: boolean;
  /** Bytes written to the socket so far. */
  sent: number;
  version: number;
  /** The answer's connection is still open. */
  open: boolean;
  /** Date.now() when the answer started, and when its connection closed. */
  openedAt: number;
  closedAt?: number;
}

export interface FakePutioOptions {
  token?: string;
  /** The Label folder created at the root ("" = none). Default "harvester". */
  label?: string;
  /** per_page of files/list when the client sends none. Default 1000. */
  defaultPerPage?: number;
  /** Emit current_ratio as a string (C.5). */
  ratioAsString?: boolean;
  /** Make error messages quote the bad token, to prove the client scrubs them. */
  echoTokenInErrors?: boolean;
}

export interface FakePutio {
  url: string;
  /** Where files/upload is served (the same server). */
  uploadUrl: string;
  token: string;
  labelFolderId: number | null;
  close(): Promise<void>;
  addTransfer(spec: FakeTransferSpec): FakeTransfer & { files: { id: number; path: string; size: number }[] };
  updateTransfer(id: number, patch: Partial<Pick<FakeTransferSpec, 'status' | 'percentDone' | 'downloaded' | 'uploaded' | 'currentRatio' | 'errorMessage' | 'estimatedTime'>>): void;
  addFolder(name: string, parentId?: number): number;
  transfer(id: number): FakeTransfer | undefined;
  node(id: number): FakeNode | undefined;
  /** Files of a transfer with their stored paths (root name included). */
  filesOf(transferId: number): { id: number; path: string; size: number; content: Buffer }[];
  /** Make listings report a size that differs from the bytes served. */
  setReportedSize(fileId: number, size: number): void;
  setDownloadStatus(fileId: number, status: number | undefined): void;
  inject(fault: Fault): void;
  failNext(times: number, status?: number, match?: string | RegExp): void;
  rateLimitNext(times: number, retryAfter?: string, match?: string | RegExp): void;
  malformedNext(times?: number, match?: string | RegExp): void;
  truncateNext(times?: number, match?: string | RegExp): void;
  stallNext(times?: number, match?: string | RegExp): void;
  dropDownloadAfter(bytes: number, times?: number): void;
  clearFaults(): void;
  /** Requests per endpoint key (all when no key). */
  calls(key?: string): number;
  requests: RecordedRequest[];
  cancelled: number[];
  deletedFiles: number[];
  added: { url: string; saveParentId: number }[];
  uploads: { parentId: number; filename: string; bytes: number }[];
  /** Every download answer, in order (segmented transfers: which ranges were fetched, and how much). */
  served: ServedRange[];
  /** Bytes per second of each download answer (a per-connection cap); 0: as fast as the socket. */
  downloadRate: number;
  /** The file gets new bytes (and a new ETag/Last-Modified), as a seedbox copy replaced under the same id. */
  replaceContent(fileId: number, content: Buffer): void;
  /** Resolves once `calls(key)` reaches `count` (events, not sleeps). */
  waitForCalls(key: string, count: number): Promise<void>;
  /** Device sign-in (GET /v2/oauth2/oob/code?app_id=): the codes handed out, oldest first. */
  oobCodes: string[];
  /** The user typed `code` at put.io/link: from now on its check answers the token. */
  linkOob(code: string): void;
  /** `code` expires: its check answers 404 code_not_found. */
  expireOob(code: string): void;
}

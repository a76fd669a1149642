// What every route of the put.io fake works on: the account's state, the fault
// queue, the JSON shapes, and the handle the test holds (its logs and URL).
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultQueue } from '../faults';
import type { FileTree } from './files';
import type { ParsedBody } from './http';
import type { Shapes } from './json';
import type { OobCodes } from './oob';
import type { TransferBook } from './transfers';
import type { FakePutio, FakePutioOptions, Fault } from './types';

export interface PutioContext {
  opts: FakePutioOptions;
  token: string;
  defaultPerPage: number;
  tree: FileTree;
  book: TransferBook;
  oob: OobCodes;
  faults: FaultQueue<Fault>;
  shapes: Shapes;
  fake: FakePutio;
}

/** One request, read: its endpoint key ("GET /v2/files/:id"), the id in its path, its form. */
export interface Call {
  req: IncomingMessage;
  method: string;
  key: string;
  path: string;
  query: Record<string, string>;
  body: ParsedBody;
  /** The number after /v2/<area>/ (NaN when none). */
  id: number;
  form: Record<string, string>;
}

/** Answers one endpoint; `fault` is the one taken for this request (only `truncate` reaches a route). */
export type Route = (ctx: PutioContext, call: Call, res: ServerResponse, fault: Fault | undefined) => void;

/** The `sig` of a download URL: put.io's links are signed, a guessed one is refused. */
export function signature(token: string, id: number): string {
  return createHash('sha1').update(`${token}:${id}`).digest('hex').slice(0, 16);
}

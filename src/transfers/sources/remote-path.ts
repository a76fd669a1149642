// FILES_REMOTE_ROOT onto FILES_FROM: a file the client reports at
// `<FILES_REMOTE_ROOT>/x` is read at `<FILES_FROM's path>/x`. The client's
// paths are not trusted: one outside the root, with a `..` segment, a NUL, or
// not absolute is refused as hostile (nothing is read), like put.io's names.
import { posix } from 'node:path';
import { HostileNameError } from '../layout';

export interface RemoteRoot {
  /** The seedbox folder the client's paths start with; null: read the reported paths as they are. */
  remoteRoot: string | null;
  /** The same folder as the transport sees it (a mount, an SFTP path, a URL path). */
  transportRoot: string;
}

/** The path the transport reads for a path the client reported. Throws HostileNameError. */
export function transportPath(reported: string, root: RemoteRoot): string {
  if (typeof reported !== 'string' || reported.length === 0) throw new HostileNameError(String(reported), 'is empty');
  if (reported.includes('\0')) throw new HostileNameError(reported, 'contains a NUL byte');
  if (!reported.startsWith('/')) throw new HostileNameError(reported, 'is not an absolute path on the seedbox');
  if (reported.split('/').includes('..')) throw new HostileNameError(reported, 'has a .. segment');
  const normal = posix.normalize(reported);
  if (root.remoteRoot === null) return normal;
  const base = posix.normalize(root.remoteRoot).replace(/\/+$/, '') || '/';
  const rel = posix.relative(base, normal);
  if (rel === '' || rel.startsWith('..') || posix.isAbsolute(rel)) {
    throw new HostileNameError(reported, `is outside FILES_REMOTE_ROOT (${base})`);
  }
  return posix.join(root.transportRoot, rel);
}

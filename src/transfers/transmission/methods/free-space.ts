// free-space: the free bytes of DOWNLOAD_DIR or a folder inside it (Sonarr/Radarr
// check it before a grab), and nothing outside it.
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { isInside } from '../../layout';
import { RpcError, type RpcRequest } from '../envelope';
import type { RpcContext } from './context';

export async function freeBytes(dir: string): Promise<{ free: number; total: number }> {
  // The folder may not exist yet (a category folder before its first download): ask its nearest parent.
  let current = dir;
  for (;;) {
    try {
      const s = await statfs(current);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch (err) {
      const parent = path.dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

export async function freeSpace(ctx: RpcContext, req: RpcRequest): Promise<Record<string, unknown>> {
  const asked = req.args.path;
  if (typeof asked !== 'string' || asked.trim() === '') throw new RpcError('free-space: path must be a string');
  const resolved = path.resolve(ctx.config.downloadDir, asked);
  // Only DOWNLOAD_DIR and what is inside it: the endpoint does not describe the rest of the machine.
  if (path.relative(ctx.config.downloadDir, resolved) !== '' && !isInside(ctx.config.downloadDir, resolved)) {
    throw new RpcError(`free-space: only DOWNLOAD_DIR (${ctx.config.downloadDir}) and folders inside it can be asked about`);
  }
  let space: { free: number; total: number };
  try {
    space = await freeBytes(resolved);
  } catch (err) {
    throw new RpcError(`free-space: ${(err as NodeJS.ErrnoException).code ?? 'cannot read'} for ${asked}`);
  }
  return { path: asked, [req.style === 'snake' ? 'size_bytes' : 'size-bytes']: space.free, total_size: space.total };
}

// The folders harvester makes in DOWNLOAD_DIR, with UMASK's mode and PUID/PGID
// as owner (the convention of *arr containers), and the Category folders:
// Sonarr and Radarr check `<session download-dir>/<category>` exists as soon
// as the download client is saved (TransmissionBase.GetStatus, the Remote Path
// Mapping health check), before any transfer has a byte, so each Category's
// folder is made when torrent-add names it and, for every Category in the
// store, when the endpoint starts.
import { chmod, chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config';
import { HostileNameError, isInside, safeSegment } from './layout';
import type { Store } from './store/store';

export interface FolderOptions {
  /** 0o777 & ~UMASK; undefined: the process's own umask. */
  dirMode?: number;
  /** PUID/PGID, when running as root. */
  owner?: { uid: number; gid: number };
}

/** The folder options of a configuration: UMASK always, PUID/PGID only to root (they mean nothing to anyone else). */
export function folderOptions(config: Pick<Config, 'umask' | 'puid' | 'pgid'>, isRoot = process.getuid?.() === 0): FolderOptions {
  return {
    dirMode: 0o777 & ~config.umask,
    ...(isRoot && (config.puid !== null || config.pgid !== null) ? { owner: { uid: config.puid ?? 0, gid: config.pgid ?? 0 } } : {}),
  };
}

/** mkdir -p, with the mode and owner applied to each folder it created. true: something was created. */
export async function makeFolders(dir: string, opts: FolderOptions): Promise<boolean> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return false;
  if (opts.dirMode !== undefined || opts.owner) {
    for (let d = dir; d.length >= first.length; d = path.dirname(d)) {
      if (opts.dirMode !== undefined) await chmod(d, opts.dirMode);
      if (opts.owner) await chown(d, opts.owner.uid, opts.owner.gid);
      if (d === first) break;
    }
  }
  return true;
}

/**
 * DOWNLOAD_DIR/<category>, made if missing. A Category that is not one safe folder name, or whose
 * folder resolves outside DOWNLOAD_DIR (a symlink), is refused with a HostileNameError: nothing is
 * made outside DOWNLOAD_DIR. Returns the folder and whether it was made now.
 */
export async function makeCategoryFolder(downloadDir: string, category: string, opts: FolderOptions): Promise<{ dir: string; made: boolean }> {
  const dir = path.join(downloadDir, safeSegment(category, 'category'));
  if (!isInside(downloadDir, dir)) throw new HostileNameError(category, 'its folder resolves outside DOWNLOAD_DIR (a symlink?)');
  return { dir, made: await makeFolders(dir, opts) };
}

/**
 * The Category folder, made or logged: a folder that cannot be made must not fail what asked for it
 * (torrent-add has already added on the seedbox; the download makes the folder again anyway).
 */
export async function ensureCategoryFolder(downloadDir: string, category: string | null, opts: FolderOptions, log: Logger): Promise<void> {
  if (!category) return;
  try {
    const { dir, made } = await makeCategoryFolder(downloadDir, category, opts);
    if (made) log.info({ event: 'category.folder-made', category, dir }, `made the folder of category "${category}": ${dir}`);
  } catch (err) {
    const reason = err instanceof HostileNameError ? err.reason : (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    log.warn({ event: 'category.folder-failed', category, err }, `cannot make the folder of category ${JSON.stringify(category)}: ${reason}`);
  }
}

/** Every Category in the store gets its folder (at start: a folder deleted while harvester was down is back). */
export async function ensureCategoryFolders(store: Store, downloadDir: string, opts: FolderOptions, log: Logger): Promise<string[]> {
  const categories = [...new Set((await store.list()).map((t) => t.category).filter((c): c is string => !!c))].sort();
  for (const category of categories) await ensureCategoryFolder(downloadDir, category, opts, log);
  return categories;
}

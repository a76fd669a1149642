// Deleting a transfer's local copy for torrent-remove (`delete-local-data`).
//
// Only what harvester itself wrote is deleted: the files of the transfer's
// Local Layout (from its stored File Names) and their `.part` files, then the
// folders of that layout once they are empty. Never a recursive delete of a
// name (a transfer name standing in could be a folder of the user's), never
// anything that resolves outside DOWNLOAD_DIR (symlinks included), never
// DOWNLOAD_DIR or a category folder itself.
import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { isInside } from '../layout';

export interface LocalCopy {
  /** DOWNLOAD_DIR. */
  downloadDir: string;
  /** DOWNLOAD_DIR[/category]. */
  dir: string;
  /** The Local Layout name. */
  name: string;
  /** The layout's files, relative to `dir`. */
  relPaths: readonly string[];
}

export interface DeleteOutcome {
  /** Paths not touched because they resolve outside DOWNLOAD_DIR. */
  refused: string[];
}

/**
 * Delete the layout's files (`partialOnly`: only their `.part` files) and the
 * folders under `dir/name` that are left empty.
 */
export async function deleteLocalCopy(copy: LocalCopy, opts: { partialOnly?: boolean } = {}): Promise<DeleteOutcome> {
  const outcome: DeleteOutcome = { refused: [] };
  const root = path.join(copy.dir, copy.name);
  if (!isInside(copy.downloadDir, root)) {
    outcome.refused.push(root);
    return outcome;
  }
  const folders = new Set<string>();
  for (const rel of copy.relPaths) {
    const abs = path.join(copy.dir, rel);
    // Every folder between the file and dir/name (dir/name itself included, when it is a folder).
    for (let d = path.dirname(abs); d !== copy.dir && d.startsWith(root); d = path.dirname(d)) folders.add(d);
    const targets = opts.partialOnly ? [`${abs}.part`] : [abs, `${abs}.part`];
    for (const target of targets) {
      if (!isInside(copy.downloadDir, target)) {
        outcome.refused.push(target);
        continue;
      }
      try {
        // Not recursive: a file (or a symlink, which rm removes without following).
        await rm(target, { force: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A folder where a file should be is not ours to delete.
        if (code !== 'EISDIR' && code !== 'ERR_FS_EISDIR' && code !== 'ENOTDIR') throw err;
      }
    }
  }
  // Deepest first, so that a parent is empty once its children are gone.
  for (const folder of [...folders].sort((a, b) => b.length - a.length)) {
    if (!isInside(copy.downloadDir, folder)) continue;
    try {
      await rmdir(folder);
    } catch {
      // Not empty (the user put something there) or already gone: leave it.
    }
  }
  return outcome;
}

// How Sonarr and Radarr compute where a Transmission item is on disk, transcribed from their
// sources (Sonarr 49df353, Radarr 1b9662d; identical in both):
//   TransmissionBase.GetItems:      var outputPath = new OsPath(torrent.DownloadDir);
//                                   OutputPath = GetOutputPath(outputPath, torrent)
//   TransmissionBase.GetOutputPath: return outputPath + torrent.Name.Replace(":", "_");
//   TransmissionBase.GetStatus:     destDir = $"{config.DownloadDir}/{Settings.TvCategory}" (the
//                                   root folder the Remote Path Mapping health check looks for)
// and NzbDrone.Common/Disk/OsPath.cs for `new OsPath(string)` and `operator +` (Unix paths: a
// Remote Path Mapping of identity, as when Sonarr sees the same DOWNLOAD_DIR).

type Kind = 'unix' | 'windows' | 'unknown';

/** OsPath.DetectPathKind. */
function kindOf(p: string): Kind {
  if (p.startsWith('/')) return 'unix';
  const drive = p.length >= 2 && /\p{L}/u.test(p[0]!) && p[1] === ':' && (p.length === 2 || p[2] === '\\' || p[2] === '/');
  if (drive || p.includes('\\')) return 'windows';
  if (p.includes('/')) return 'unix';
  return 'unknown';
}

/** OsPath.FixSlashes. */
function fixSlashes(p: string, kind: Kind): string {
  if (kind === 'windows') return p.replace(/\//g, '\\');
  if (kind === 'unix') {
    let out = p.replace(/\\/g, '/');
    while (out.includes('//')) out = out.replace(/\/\//g, '/');
    return out;
  }
  return p;
}

/** `new OsPath(downloadDir) + name.Replace(":", "_")`, on a Unix download dir. Throws where Sonarr throws. */
export function sonarrOutputPath(downloadDir: string, name: string): string {
  const leftKind = kindOf(downloadDir);
  const left = fixSlashes(downloadDir, leftKind);
  const rightRaw = name.split(':').join('_');
  const rightKind = kindOf(rightRaw);
  const right = fixSlashes(rightRaw, rightKind);
  if (leftKind !== rightKind && rightKind !== 'unknown') {
    throw new Error(`Cannot combine OsPaths of different platforms ('${left}' + '${right}')`);
  }
  if (right.trim() === '') return left;
  if (rightKind === 'unix' && right.startsWith('/')) return right; // IsRooted
  if (leftKind === 'windows' || rightKind === 'windows') throw new Error('a Windows download dir is not what these tests replay');
  if (leftKind === 'unix' || rightKind === 'unix') return fixSlashes([left.replace(/\/+$/, ''), right].join('/'), 'unix');
  return [left, right].join('/');
}

/** TransmissionBase.GetStatus: the root folder of a category, which the health check wants to exist. */
export function sonarrCategoryFolder(sessionDownloadDir: string, category: string): string {
  return `${sessionDownloadDir}/${category}`;
}

// What an FTP listing says about an entry, as the File Transport's EntryInfo.
// MLSD (RFC 3659) gives exact UTC times; LIST (what vsftpd has) gives `ls -l`
// lines whose time is `Mmm dd HH:MM` (the last six months, no year) or
// `Mmm dd  YYYY`: minute or day precision, in the server's time zone (UTC for
// vsftpd unless use_localtime). That is enough for the folder source's "the
// same on two polls" (a file being written changes its size too); the guard
// around a read uses MDTM (basic-ftp's lastMod), which has seconds.
import { FileType, type FileInfo } from 'basic-ftp';
import type { DirEntry, EntryType } from './types';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The time of a LIST line (`Dec 02 02:54`, `Dec 02 2025`) in ms, taken as UTC; 0 when unreadable. */
export function parseListTime(raw: string, now = Date.now()): number {
  const m = /^([A-Za-z]{3})\s+(\d{1,2})\s+(?:(\d{1,2}):(\d{2})|(\d{4}))$/.exec(raw.trim());
  if (!m) return 0;
  const month = MONTHS.indexOf(m[1]!.toLowerCase());
  if (month < 0) return 0;
  const day = Number(m[2]);
  if (m[5]) return Date.UTC(Number(m[5]), month, day);
  const year = new Date(now).getUTCFullYear();
  const t = Date.UTC(year, month, day, Number(m[3]), Number(m[4]));
  // No year: within the last six months, so a date ahead of now (beyond clock skew) was last year.
  return t > now + 86_400_000 ? Date.UTC(year - 1, month, day, Number(m[3]), Number(m[4])) : t;
}

export function entryType(info: FileInfo): EntryType {
  switch (info.type) {
    case FileType.File:
      return 'file';
    case FileType.Directory:
      return 'dir';
    case FileType.SymbolicLink:
      return 'symlink';
    default:
      return 'other';
  }
}

export function toDirEntry(info: FileInfo, now = Date.now()): DirEntry {
  const mtimeMs = info.modifiedAt ? info.modifiedAt.getTime() : parseListTime(info.rawModifiedAt ?? '', now);
  return { name: info.name, type: entryType(info), size: Number.isFinite(info.size) ? info.size : 0, mtimeMs };
}

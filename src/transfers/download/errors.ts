// Errors of one transfer's download. They fail that transfer's attempt, never the loop.

export class SizeMismatchError extends Error {
  override name = 'SizeMismatchError';
  constructor(readonly path: string, readonly expected: number, readonly actual: number) {
    super(`${path}: expected ${expected} bytes, got ${actual}`);
  }
}

export class ChecksumMismatchError extends Error {
  override name = 'ChecksumMismatchError';
  constructor(readonly path: string, readonly algorithm: string, readonly expected: string, readonly actual: string) {
    super(`${path}: ${algorithm} ${actual} does not match the seedbox's ${expected}`);
  }
}

export class OutsideDownloadDirError extends Error {
  override name = 'OutsideDownloadDirError';
  constructor(readonly path: string) {
    super(`${path} resolves outside DOWNLOAD_DIR (a symlink?): refused`);
  }
}

/** The claim was taken by someone else (our lease ran out): stop without recording anything. */
export class ClaimLostError extends Error {
  override name = 'ClaimLostError';
  constructor(readonly transferId: string) {
    super(`claim on ${transferId} lost`);
  }
}

/** Not enough free space for what remains plus MIN_FREE_SPACE: the transfer waits, it has not failed. */
export class DiskFullError extends Error {
  override name = 'DiskFullError';
  constructor(readonly neededBytes: number, readonly freeBytes: number) {
    super(`not enough free space in DOWNLOAD_DIR: ${neededBytes} bytes needed (with MIN_FREE_SPACE), ${freeBytes} free`);
  }
}

/**
 * The transfer was paused (torrent-stop, the status page's Pause) while downloading: the file in
 * flight is cut at once and its `.part` kept, so a resume fetches only the rest. Not a failure.
 */
export class PausedError extends Error {
  override name = 'PausedError';
  constructor(readonly transferId: string) {
    super(`${transferId} paused`);
  }
}

/** Every download was paused (POST /api/downloads/pause): the transfer stops, keeps its .part files, and waits. */
export class DownloadsPausedError extends Error {
  override name = 'DownloadsPausedError';
  constructor() {
    super('downloads are paused');
  }
}

/** EXCLUDE leaves none of the transfer's files: nothing to download (fails for good; `harvester retry` after changing EXCLUDE). */
export class AllExcludedError extends Error {
  override name = 'AllExcludedError';
  constructor(readonly count: number) {
    super(`every file of the transfer (${count}) is excluded by EXCLUDE: nothing to download`);
  }
}

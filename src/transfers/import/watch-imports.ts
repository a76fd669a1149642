// The import step: for each Downloaded transfer, ask Sonarr/Radarr/Lidarr/Readarr
// whether they imported it (by info-hash first, by path second, arr.ts); the
// first that has marks it Imported (mark-imported.ts, the same rule as the
// *arrs' webhook on the ops server). With none configured, a Downloaded
// transfer counts as imported at once. After IMPORT_TIMEOUT without an import
// it is no longer asked about (import-timeout.ts): one `transfer.not-imported`
// notification, its copy kept.
import type { Logger } from 'pino';
import type { ArrClient } from '../arr';
import { recordedPath } from '../layout';
import { remoteCall } from '../net/remote-call';
import type { Store } from '../store/store';
import { formatDuration } from '../units';
import { awaitingImport, giveUpImport, importWaitOver } from './import-timeout';
import { markImported } from './mark-imported';

export interface ImportWatch {
  store: Pick<Store, 'list' | 'claim' | 'transition' | 'releaseClaim' | 'get' | 'giveUpImport'>;
  /** The configured *arrs, in a fixed order (configuredArrs); empty: every download counts as imported. */
  arrs: ReadonlyArray<Pick<ArrClient, 'kind' | 'findImport'>>;
  /** Claim owner `<pid>:<loop>`. */
  owner: string;
  downloadDir: string;
  /** IMPORT_TIMEOUT; null: wait forever. */
  importTimeoutMs: number | null;
  log: Logger;
}

/** One pass of the step over the Downloaded transfers. */
export async function watchImports(w: ImportWatch, signal: AbortSignal, now: () => number = Date.now): Promise<void> {
  const { store, owner, arrs, log } = w;
  for (const t of await store.list({ state: 'downloaded' })) {
    if (signal.aborted) return;
    if (!awaitingImport(t)) continue;
    const name = t.localName ?? t.name;
    const path = recordedPath(w.downloadDir, t);
    if (arrs.length > 0 && importWaitOver(t, now(), w.importTimeoutMs)) {
      const waited = formatDuration(w.importTimeoutMs!);
      if (await giveUpImport(store, t, owner, { importTimeoutMs: w.importTimeoutMs!, path })) {
        log.warn({ event: 'transfer.not-imported', transferId: t.id, name, path, importTimeout: waited },
          `"${name}" was not imported within IMPORT_TIMEOUT=${waited}: no longer asking the *arrs about it; the copy is kept at ${path}`);
      }
      continue;
    }
    let by: string | undefined;
    if (arrs.length === 0) by = 'no-arr';
    for (const arr of arrs) {
      const found = await remoteCall(log, 'arr.check-failed', `asking ${arr.kind} about "${name}" failed`,
        () => arr.findImport({ hash: t.hash, paths: [path] }, signal));
      if (found?.imported) {
        by = `${arr.kind}:${found.matchedBy ?? 'hash'}`;
        break;
      }
    }
    if (!by) continue;
    if ((await markImported(store, t, owner, by)) === 'imported') {
      log.info({ event: 'transfer.imported', transferId: t.id, name, by }, `"${name}" imported (${by})`);
    }
  }
}

// The Local Layout of a transfer about to be downloaded, recorded with its File
// Names (layout.ts computes it; this picks the names it must not take). A
// transfer with a recorded name keeps it; a new one is named against the names
// its folder already holds (other transfers' and the entries on disk), so that
// two names that differ only in case never share one entry on a
// case-insensitive share. One at a time: two new transfers cannot both pick a name.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { localLayout, safeSegment, type LocalLayout } from '../layout';
import type { RemoteFile, Transfer } from '../model';
import type { Store } from '../store/store';

export class LayOut {
  /** The last Local Layout being chosen. */
  private laying: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: Store, private readonly downloadDir: string) {}

  of(t: Transfer, files: RemoteFile[]): Promise<LocalLayout<RemoteFile>> {
    const next = this.laying.then(async () => {
      const taken = t.localName ? [] : await this.namesTaken(t);
      const layout = localLayout({ downloadDir: this.downloadDir, category: t.category, files, transferName: t.name, recordedName: t.localName, taken });
      await this.store.setFiles(t.id, files, layout.name);
      return layout;
    });
    this.laying = next.catch(() => undefined);
    return next;
  }

  /** The names other transfers recorded in t's folder, and the entries on disk there (a `.part` as its final name). */
  private async namesTaken(t: Transfer): Promise<string[]> {
    const category = t.category || null;
    const recorded = (await this.store.list())
      .filter((o) => o.id !== t.id && o.localName && !o.localDeletedAt && (o.category || null) === category)
      .map((o) => o.localName!);
    let dir: string;
    try {
      dir = category ? path.join(this.downloadDir, safeSegment(category, 'category')) : this.downloadDir;
    } catch {
      return recorded; // localLayout refuses the category with its reason
    }
    const onDisk = await readdir(dir).catch(() => [] as string[]);
    return [...recorded, ...onDisk.map((n) => n.replace(/\.part$/, ''))];
  }
}

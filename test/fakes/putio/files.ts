// The account's files and folders: a tree of nodes under the root (id 0, not
// stored), ids handed out from 100 in creation order, and put.io's way of
// de-duplicating a name inside a folder.
import { crc32 } from 'node:zlib';
import { guessFileType } from './names';
import type { FakeFileSpec, FakeNode } from './types';

/** Timestamps as put.io writes them: ISO 8601 to the second, no zone. */
export const stamp = (): string => new Date().toISOString().slice(0, 19);

export class FileTree {
  readonly nodes = new Map<number, FakeNode>();
  private nextFileId = 100;
  private suffixSeed = 0;

  add(node: Omit<FakeNode, 'id' | 'createdAt'>): FakeNode {
    const full: FakeNode = { ...node, id: this.nextFileId++, createdAt: stamp() };
    this.nodes.set(full.id, full);
    return full;
  }

  get(id: number): FakeNode | undefined {
    return this.nodes.get(id);
  }

  has(id: number): boolean {
    return this.nodes.has(id);
  }

  isFolder(id: number): boolean {
    return this.nodes.get(id)?.isDir === true;
  }

  childrenOf(parentId: number): FakeNode[] {
    return [...this.nodes.values()].filter((n) => n.parentId === parentId && n.id !== parentId).sort((a, b) => a.id - b.id);
  }

  /** put.io de-duplicates names in a folder by appending a random-looking suffix. */
  uniqueName(parentId: number, name: string, isDir: boolean): string {
    const taken = new Set(this.childrenOf(parentId).map((n) => n.name));
    if (!taken.has(name)) return name;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    let suffix = '';
    let seed = ++this.suffixSeed * 2654435761;
    for (let i = 0; i < 8; i++) {
      suffix += alphabet[seed % alphabet.length];
      seed = Math.floor(seed / 7) + 13 * (i + 1);
    }
    const dot = name.lastIndexOf('.');
    if (isDir || dot <= 0) return `${name} ${suffix}`;
    return `${name.slice(0, dot)} ${suffix}${name.slice(dot)}`;
  }

  folderByName(name: string, parentId = 0): FakeNode | undefined {
    return this.childrenOf(parentId).find((n) => n.isDir && n.name === name);
  }

  addFolder(name: string, parentId = 0): number {
    return this.add({ name, parentId, isDir: true, fileType: 'FOLDER' }).id;
  }

  /** A folder's size is the sum of its files'. */
  totalSize(nodeId: number): number {
    const node = this.nodes.get(nodeId);
    if (!node) return 0;
    if (!node.isDir) return node.content?.length ?? 0;
    return this.childrenOf(nodeId).reduce((sum, child) => sum + this.totalSize(child.id), 0);
  }

  removeTree(id: number): void {
    for (const child of this.childrenOf(id)) this.removeTree(child.id);
    this.nodes.delete(id);
  }

  /** The files under `rootId` with their paths from it (its name included). */
  filesUnder(rootId: number): { id: number; path: string; size: number; content: Buffer }[] {
    const out: { id: number; path: string; size: number; content: Buffer }[] = [];
    const visit = (node: FakeNode, path: string): void => {
      if (!node.isDir) out.push({ id: node.id, path, size: node.content?.length ?? 0, content: node.content ?? Buffer.alloc(0) });
      else for (const child of this.childrenOf(node.id)) visit(child, `${path}/${child.name}`);
    };
    const root = this.nodes.get(rootId);
    if (root) visit(root, root.name);
    return out;
  }
}

/** A file node for `spec`, its CRC32 computed unless the spec overrides it. */
export function fileNode(spec: FakeFileSpec, name: string, parentId: number): Omit<FakeNode, 'id' | 'createdAt'> {
  const content = Buffer.isBuffer(spec.content) ? spec.content : Buffer.from(spec.content);
  return {
    name,
    parentId,
    isDir: false,
    content,
    crc32: spec.crc32 === undefined ? crc32(content).toString(16).padStart(8, '0') : spec.crc32,
    fileType: spec.fileType ?? guessFileType(name),
  };
}

/** An uploaded (non-torrent) file as put.io stores it. */
export function uploadedNode(name: string, parentId: number, bytes: Buffer, filename: string): Omit<FakeNode, 'id' | 'createdAt'> {
  return { name, parentId, isDir: false, content: bytes, crc32: crc32(bytes).toString(16).padStart(8, '0'), fileType: guessFileType(filename) };
}

// The only code that touches DELUGE_MOUNT_DIR, run in a child process per read
// (deluge-mount.ts explains why). Plain Node, no imports of ours: it starts in
// tens of milliseconds and holds no secret (it gets an empty environment).
//
//   node deluge-mount-child.js read  <root> <relative/path> <offset> [<end>]
//   node deluge-mount-child.js probe <root>
//   node deluge-mount-child.js stat|lstat|realpath|list|remove <root> <relative/path or .>
//
// Protocol: one JSON line on stderr first, `{"ok":true,"size":N}` (read),
// `{"ok":true,"entries":N}` (probe), `{"ok":true,"info":{type,size,mtimeMs}}`
// (stat, lstat), `{"ok":true,"path":"rel/to/real/root"}` (realpath), `{"ok":true,"list":[{name,type,size,mtimeMs}]}`
// (list), `{"ok":true}` (remove), or `{"ok":false,"code":"ENOENT"}`; then, for
// a read, the file's bytes from <offset> on stdout. A failure mid-read is one
// more JSON line on stderr and a non-zero exit. Sync calls are fine here: a
// blocked call blocks only this process, which the parent kills.
import { closeSync, createReadStream, fstatSync, lstatSync, openSync, readdirSync, realpathSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { join, sep } from 'node:path';

function report(message: Record<string, unknown>): void {
  writeSync(2, `${JSON.stringify(message)}\n`);
}

function codeOf(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

function inside(target: string, root: string): boolean {
  return target === root || target.startsWith(root.endsWith(sep) ? root : root + sep);
}

function infoOf(s: Stats): { type: string; size: number; mtimeMs: number } {
  const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : 'other';
  return { type, size: s.size, mtimeMs: s.mtimeMs };
}

/** stat, lstat, realpath, list, remove of `<root>/<rel>` (`.` the root itself); a link out of the root is refused. */
function metadata(op: string, realRoot: string, rel: string): void {
  const parts = rel === '.' ? [] : rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
    report({ ok: false, code: 'BAD_PATH' });
    process.exitCode = 1;
    return;
  }
  const abs = join(realRoot, ...parts);
  // Links not followed: lstat and list see the link itself; remove removes the link, never its target.
  if (op === 'lstat') return report({ ok: true, info: infoOf(lstatSync(abs)) });
  if (op === 'list') {
    const list = readdirSync(abs).flatMap((name) => {
      try {
        return [{ name, ...infoOf(lstatSync(join(abs, name))) }];
      } catch {
        return []; // removed meanwhile
      }
    });
    return report({ ok: true, list });
  }
  if (op === 'remove') {
    if (parts.length === 0) {
      report({ ok: false, code: 'BAD_PATH' });
      process.exitCode = 1;
      return;
    }
    rmSync(abs, { recursive: true, force: true });
    return report({ ok: true });
  }
  const real = realpathSync(abs);
  if (!inside(real, realRoot)) {
    report({ ok: false, code: 'OUTSIDE' });
    process.exitCode = 1;
    return;
  }
  // Relative to the real root: the parent shows it under the root as it names it (a mount point may be a link).
  if (op === 'realpath') return report({ ok: true, path: real === realRoot ? '.' : real.slice(realRoot.length + (realRoot.endsWith(sep) ? 0 : 1)).split(sep).join('/') });
  report({ ok: true, info: infoOf(statSync(real)) });
}

const METADATA = new Set(['stat', 'lstat', 'realpath', 'list', 'remove']);

export function main(argv: string[]): void {
  const [op, root, rel, offsetText, endText] = argv;
  try {
    if (!root) throw Object.assign(new Error('no root'), { code: 'EINVAL' });
    const realRoot = realpathSync(root);
    if (op === 'probe') {
      if (!statSync(realRoot).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      report({ ok: true, entries: readdirSync(realRoot).length });
      return;
    }
    if (op && METADATA.has(op) && rel) return metadata(op, realRoot, rel);
    if (op !== 'read' || !rel) throw Object.assign(new Error('bad arguments'), { code: 'EINVAL' });
    const parts = rel.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))) {
      report({ ok: false, code: 'BAD_PATH' });
      process.exitCode = 1;
      return;
    }
    const real = realpathSync(join(realRoot, ...parts));
    // A symlink on the seedbox must not make us read outside the mount.
    if (!inside(real, realRoot)) {
      report({ ok: false, code: 'OUTSIDE' });
      process.exitCode = 1;
      return;
    }
    const fd = openSync(real, 'r');
    const info = fstatSync(fd);
    if (!info.isFile()) {
      closeSync(fd);
      report({ ok: false, code: 'NOT_FILE' });
      process.exitCode = 1;
      return;
    }
    report({ ok: true, size: info.size });
    const offset = Number(offsetText ?? 0);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= info.size) {
      closeSync(fd);
      return;
    }
    // A range [offset, end) when asked (segmented reads); to the end of the file otherwise.
    const end = endText === undefined ? undefined : Number(endText);
    const last = end !== undefined && Number.isSafeInteger(end) && end > offset ? Math.min(end, info.size) - 1 : undefined;
    const stream = createReadStream('', { fd, start: offset, ...(last !== undefined ? { end: last } : {}), highWaterMark: 1 << 20 });
    stream.on('error', (err) => {
      report({ ok: false, code: codeOf(err), phase: 'read' });
      process.exit(1);
    });
    // The parent went away (stopped, or killed our read): nothing left to do.
    process.stdout.on('error', () => process.exit(0));
    stream.pipe(process.stdout);
  } catch (err) {
    report({ ok: false, code: codeOf(err) });
    process.exitCode = 1;
  }
}

if (require.main === module) main(process.argv.slice(2));

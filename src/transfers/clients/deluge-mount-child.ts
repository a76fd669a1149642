// The only code that touches DELUGE_MOUNT_DIR, run in a child process per read
// (deluge-mount.ts explains why). Plain Node, no imports of ours: it starts in
// tens of milliseconds and holds no secret (it gets an empty environment).
//
//   node deluge-mount-child.js read  <root> <relative/path> <offset>
//   node deluge-mount-child.js probe <root>
//
// Protocol: one JSON line on stderr first, `{"ok":true,"size":N}` (read) or
// `{"ok":true,"entries":N}` (probe), or `{"ok":false,"code":"ENOENT"}`; then, for
// a read, the file's bytes from <offset> on stdout. A failure mid-read is one
// more JSON line on stderr and a non-zero exit. Sync calls are fine here: a
// blocked call blocks only this process, which the parent kills.
import { closeSync, createReadStream, fstatSync, openSync, readdirSync, realpathSync, statSync, writeSync } from 'node:fs';
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

export function main(argv: string[]): void {
  const [op, root, rel, offsetText] = argv;
  try {
    if (!root) throw Object.assign(new Error('no root'), { code: 'EINVAL' });
    const realRoot = realpathSync(root);
    if (op === 'probe') {
      if (!statSync(realRoot).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      report({ ok: true, entries: readdirSync(realRoot).length });
      return;
    }
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
    const stream = createReadStream('', { fd, start: offset, highWaterMark: 1 << 20 });
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

// Writing a secret where the daemon reads it (PUTIO_TOKEN_FILE): mode 600 from its first
// byte (never readable by others, not even for a moment), written in full and synced
// before it replaces the old file (rename), so a crash leaves the old token or the new
// one, never half of one. The folder is created (700) when missing.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function writeSecretFile(file: string, content: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // open's mode passes through the umask, which can only take bits away; say it exactly.
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename itself is durable once the folder is synced.
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // some filesystems refuse fsync on a folder; the file itself is synced
  } finally {
    await d.close();
  }
}

// Secrets from files: each `<NAME>_FILE` (`PUTIO_TOKEN_FILE`, `HTTP_TOKEN_FILE`)
// read and put in place of `<NAME>` before parsing. Docker and Kubernetes
// secrets are mounted as files, and a token in a file stays out of `docker
// inspect`, the process's environment listings and shell history.
import { readFileSync } from 'node:fs';
import { quote } from '../config-error';
import { FILE_VARIABLES } from './types';
import { toError, type Problem } from './problems';

/**
 * `env` with each `<NAME>_FILE` replaced by the file's content as `<NAME>` (trailing
 * newline and spaces trimmed). Both set, or a file that cannot be read or is empty:
 * a ConfigError naming the variable and the path, never the content.
 */
export function withFileValues(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  const problems: Problem[] = [];
  const given = (v: string | undefined): v is string => typeof v === 'string' && v.trim() !== '';
  for (const name of FILE_VARIABLES) {
    const fileVar = `${name}_FILE`;
    const file = env[fileVar];
    delete out[fileVar];
    if (!given(file)) continue;
    if (given(env[name])) {
      problems.push({ variable: fileVar, problem: `cannot be set together with ${name}: keep one` });
      continue;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ variable: fileVar, problem: `cannot read ${quote(file, 200)} (${readProblem(err as NodeJS.ErrnoException)})` });
      continue;
    }
    const value = text.replace(/\s+$/, '');
    if (value === '') problems.push({ variable: fileVar, problem: `${quote(file, 200)} is empty` });
    else out[name] = value;
  }
  if (problems.length > 0) throw toError(problems);
  return out;
}

function readProblem(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return `permission denied for uid ${process.getuid?.() ?? '?'}`;
  if (err.code === 'EISDIR') return 'it is a folder';
  return err.code ?? 'unreadable';
}

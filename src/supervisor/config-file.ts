// `harvester run --config FILE`: an ESM (or CJS) module whose default export is
// { loops: [...], ...supervisorOptions }. Relative loop modules resolve from the file's folder.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StartupError } from './errors';
import { configDir, resolveLoopSpecs, validateOptions, type SupervisorOptions } from './options';

export async function loadConfigFile(file: string): Promise<SupervisorOptions> {
  const path = resolve(file);
  if (!existsSync(path)) throw new StartupError(`config ${file}: file not found`, file);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (err) {
    throw new StartupError(`config ${file}: cannot load: ${(err as Error).message.split('\n')[0]}`, file);
  }
  let value = mod.default;
  // A CommonJS config compiled from TypeScript: module.exports.default.
  if (value && typeof value === 'object' && 'default' in value && !('loops' in value)) value = (value as { default: unknown }).default;
  if (!value || typeof value !== 'object') throw new StartupError(`config ${file}: the default export must be an object with "loops"`, file);
  const options = validateOptions(value, `config ${file}`);
  const withBase = { ...options, baseDir: options.baseDir ?? configDir(path) };
  resolveLoopSpecs(withBase); // duplicate names and missing modules fail here, before any thread starts
  return withBase;
}

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type KeelFileOptions, resolveConfigFile } from '@keel/core';
import type { LoadedConfig } from './command.js';
import { UsageError } from './usage-error.js';
import { parseYaml } from './yaml.js';

/** Looked for in this order in the current directory when `--config` is not given. */
export const CONFIG_FILE_NAMES = [
  'keel.config.ts',
  'keel.config.mts',
  'keel.config.mjs',
  'keel.config.js',
  'keel.config.json',
  'keel.config.yaml',
  'keel.config.yml',
] as const;

/** The config file to read: `given`, else the one `keel.config.*` in `cwd`. */
export function findConfigFile(cwd: string, given: string | undefined): string {
  if (given !== undefined) {
    const path = resolve(cwd, given);
    if (!existsSync(path)) throw new UsageError(`--config: no such file: ${given}`);
    return path;
  }
  const found = CONFIG_FILE_NAMES.filter((name) => existsSync(resolve(cwd, name)));
  if (found.length === 0)
    throw new UsageError(
      `no config file: create keel.config.ts (or .mjs, .js, .json, .yaml) in ${cwd}, or pass --config <file>`,
    );
  if (found.length > 1)
    throw new UsageError(
      `more than one config file in ${cwd} (${found.join(', ')}): keep one, or pass --config`,
    );
  return resolve(cwd, found[0]!);
}

/**
 * Reads a config file of any supported format and validates it with core's
 * resolver: a bad option throws core's `KeelError`, a file that cannot be
 * read or parsed a `UsageError`.
 */
export async function loadConfig(path: string): Promise<LoadedConfig> {
  const options = await readOptions(path);
  return { path, options, resolved: resolveConfigFile(options) };
}

async function readOptions(path: string): Promise<KeelFileOptions> {
  const extension = extname(path);
  if (extension === '.json' || extension === '.yaml' || extension === '.yml') {
    return parseYaml(await readFile(path, 'utf8'), path) as KeelFileOptions;
  }
  if (!['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'].includes(extension))
    throw new UsageError(`${path}: unsupported config format (use .ts, .mjs, .js, .json or .yaml)`);
  let loaded: Record<string, unknown>;
  try {
    // tsx compiles TypeScript on the fly and follows the project's tsconfig paths; plain JS loads as it is.
    const url = pathToFileURL(path).href;
    loaded = extension.endsWith('ts')
      ? await (await import('tsx/esm/api')).tsImport(url, { parentURL: url })
      : await import(url);
  } catch (error) {
    if (isKeelError(error)) throw error;
    throw new UsageError(`${path}: cannot load: ${(error as Error).message}`);
  }
  // A CommonJS-compiled module nests the ES default export one level down.
  let options = loaded.default;
  if (isObject(options) && 'default' in options && Object.keys(options).length === 1)
    options = options.default;
  if (!isObject(options))
    throw new UsageError(
      `${path}: must \`export default defineConfig({ ... })\` (its default export is ${typeof options})`,
    );
  return options as KeelFileOptions;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keel's errors may come from another copy of core (the config file's own import), so match by shape. */
export function isKeelError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error &&
    error.name === 'KeelError' &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

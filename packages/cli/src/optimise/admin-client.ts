import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type KeelFileConfig, type KeelFileOptions, resolveConfigFile } from '@keel/core';
import type { CommandContext } from '../cli/command.js';
import { CONFIG_FILE_NAMES } from '../cli/load-config.js';
import { UsageError } from '../cli/usage-error.js';

/** The app's admin endpoints, as one running app serves them. */
export interface AdminTarget {
  /** The app's base URL, e.g. `http://localhost:3000`, with `endpoints.prefix` appended. */
  readonly base: string;
  readonly token: string | undefined;
}

/** Raised when the app cannot be reached or answers an error: the command is incomplete (exit 3). */
export class AdminError extends Error {
  override readonly name = 'AdminError';
}

/**
 * The config when there is one (`--config`, or a `keel.config.*` here),
 * else the defaults, with a warning: the admin commands run against any app.
 */
export async function configOrDefaults(
  context: CommandContext,
): Promise<{ options: KeelFileOptions; resolved: KeelFileConfig }> {
  const given = context.values.config !== undefined;
  if (given || CONFIG_FILE_NAMES.some((name) => existsSync(resolve(context.cwd, name))))
    return context.config();
  context.warn('no keel.config file here: using the default budgets and endpoints');
  return { options: {}, resolved: resolveConfigFile({}) };
}

/** Where the admin endpoints are: `<url>` + `endpoints.prefix`, the token from `--token`, `KEEL_TOKEN` or the config. */
export function adminTarget(
  url: string | undefined,
  context: CommandContext,
  config: KeelFileConfig,
): AdminTarget {
  if (!url) throw new UsageError('give the app’s URL, e.g. http://localhost:3000');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`not an http(s) URL: ${url}`);
  const token =
    (context.values.token as string | undefined) ?? process.env.KEEL_TOKEN ?? config.keel.endpoints.token;
  return { base: `${url.replace(/\/+$/, '')}${config.keel.endpoints.prefix}`, token };
}

/** Calls one admin endpoint and parses its JSON answer; anything but a 2xx is an `AdminError` saying why. */
export async function admin<T>(target: AdminTarget, path: string, method = 'GET'): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${target.base}${path}`, {
      method,
      headers: target.token ? { authorization: `Bearer ${target.token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new AdminError(
      `${method} ${target.base}${path}: ${(error as Error).cause ?? (error as Error).message}`,
    );
  }
  const body = await response.text();
  if (response.status === 401)
    throw new AdminError(
      `${method} ${target.base}${path}: 401, the app wants its endpoints token (--token or KEEL_TOKEN)`,
    );
  if (response.status === 404)
    throw new AdminError(
      `${method} ${target.base}${path}: 404, the app does not serve it (Keel too old, optimise: false, or another endpoints.prefix)`,
    );
  if (response.status < 200 || response.status >= 300)
    throw new AdminError(`${method} ${target.base}${path}: ${response.status} ${body.trim().slice(0, 300)}`);
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new AdminError(`${method} ${target.base}${path}: the answer is not JSON`);
  }
}

/** `30s`, `2m`, `500ms`, `1h`, or a number of seconds, as ms. */
export function parseDuration(option: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`--${option}: not a duration (use 30s, 2m, 500ms): ${value}`);
  const size = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(m[1]) * size);
  if (ms <= 0) throw new UsageError(`--${option}: must be more than 0: ${value}`);
  return ms;
}

/** A positive integer option. */
export function parseCount(option: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${option}: must be an integer >= 1: ${value}`);
  return n;
}

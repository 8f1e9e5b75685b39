import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sources = fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url));

export interface Started {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  readonly output: () => string;
  /** SIGTERM, then SIGKILL (to its whole process group) if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /**
   * SIGTERM goes to the child (the app: a second one within a second is taken for a copy);
   * SIGKILL goes to the whole process group, so whatever the child started goes with it.
   */
  kill(signal: 'SIGTERM' | 'SIGKILL'): void;
}

function started(child: ChildProcess): Started & { exited: Promise<void> } {
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const kill = (signal: 'SIGTERM' | 'SIGKILL') => {
    if (signal === 'SIGTERM' || child.pid === undefined) child.kill(signal);
    else {
      try {
        // A process group of its own (spawned detached): the kill reaches everything it started.
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // not a group leader, or already gone
      }
    }
  };
  return {
    child,
    exited,
    output: () => output,
    kill,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The example as `pnpm start` runs it (`node --import tsx`, here with the root
 * tsconfig mapping @keel/* to the sources), with `env` added; resolves once it listens.
 */
export async function startStudioApi(env: Record<string, string>): Promise<Started & { base: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, TSX_TSCONFIG_PATH: sources, PORT: '0', KEEL_PRESTOP_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a terminal gives a job: a SIGKILL to it reaches everything.
    detached: true,
  });
  const handle = started(child);
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`studio-api did not start:\n${handle.output()}`)),
      60_000,
    );
    child.stdout!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(handle.output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`studio-api exited with ${code}:\n${handle.output()}`));
    });
  });
  return { ...handle, base };
}

/**
 * Debian's Prometheus server, with its own config, data directory and port,
 * scraping `targets` as one job and evaluating `ruleFiles`, every second.
 */
export async function startPrometheus(options: {
  dir: string;
  port: number;
  job: string;
  targets: readonly string[];
  ruleFiles: readonly string[];
}): Promise<Started & { url: string }> {
  const config = join(options.dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [{ job_name: options.job, static_configs: [{ targets: options.targets }] }],
    }),
  );
  const child = spawn(
    '/usr/bin/prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${options.port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const handle = started(child);
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`prometheus exited with ${child.exitCode}:\n${handle.output()}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { ...handle, url };
    if (Date.now() > deadline) throw new Error(`prometheus did not become ready:\n${handle.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** An instant query through Prometheus' HTTP API, at `time` (seconds) or now. */
export async function query(url: string, promql: string, time?: number): Promise<Sample[]> {
  const params = new URLSearchParams({ query: promql });
  if (time !== undefined) params.set('time', String(time));
  const res = await fetch(`${url}/api/v1/query?${params}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Polls `probe` until it returns a value other than `undefined`, or fails after `ms`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A database of its own on the PostgreSQL at `serverUrl`, created afresh;
 * returns its URL and a function that drops it (connections and all).
 */
export async function freshDatabase(
  serverUrl: string,
  name: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

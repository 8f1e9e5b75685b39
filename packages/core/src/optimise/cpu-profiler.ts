import { Session } from 'node:inspector';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock, TimerHandle } from '../clock.js';
import type { CpuFunction, CpuProfileReport } from './optimise-report.js';

/** Functions listed in a profile report. */
const TOP_FUNCTIONS = 10;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
}

/** V8's names for samples that are not a JavaScript function. */
const IDLE = '(idle)';
const GC = '(garbage collector)';
const NOT_FUNCTIONS = new Set(['(root)', '(program)', IDLE, GC]);

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  // In-process sessions answer synchronously, but the API is callback-shaped.
  return new Promise<T>((resolve, reject) =>
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))),
  );
}

/**
 * Samples this process's CPU for `durationMs` (or until `stopped` resolves)
 * with V8's profiler, through `node:inspector` in process (no debugger port
 * is opened), and returns the functions with the most self time, with file
 * and line. `costMs` is what it blocked the event loop for: starting,
 * stopping and reading the profile.
 */
export async function profileCpu(
  durationMs: number,
  samplingUs: number,
  clock: Clock,
  stopped: Promise<void> = new Promise(() => {}),
  cwd: string = process.cwd(),
): Promise<CpuProfileReport> {
  const startedAt = clock.now();
  let blocked = 0;
  let t = performance.now();
  const session = new Session();
  session.connect();
  try {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: samplingUs });
    await post(session, 'Profiler.start');
    blocked += performance.now() - t;
    let timer: TimerHandle | undefined;
    await Promise.race([stopped, new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, durationMs)))]);
    if (timer !== undefined) clock.clearTimeout(timer);
    t = performance.now();
    const { profile } = await post<{ profile: Profile }>(session, 'Profiler.stop');
    const report = summariseProfile(profile, cwd);
    blocked += performance.now() - t;
    return { startedAt, durationMs: clock.now() - startedAt, samplingUs, ...report, costMs: round(blocked) };
  } finally {
    session.disconnect();
  }
}

/** Self samples per function (name, file, line), most first; idle and GC shares. */
export function summariseProfile(
  profile: Profile,
  cwd: string,
): Pick<CpuProfileReport, 'samples' | 'idleShare' | 'gcShare' | 'top'> {
  let samples = 0;
  let idle = 0;
  let gc = 0;
  const byFunction = new Map<string, { frame: CallFrame; hits: number }>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    samples += hits;
    const name = node.callFrame.functionName;
    if (name === IDLE) idle += hits;
    else if (name === GC) gc += hits;
    if (hits === 0 || NOT_FUNCTIONS.has(name)) continue;
    const key = `${name}\u0000${node.callFrame.url}\u0000${node.callFrame.lineNumber}`;
    const entry = byFunction.get(key);
    if (entry) entry.hits += hits;
    else byFunction.set(key, { frame: node.callFrame, hits });
  }
  const busy = samples - idle;
  const top: CpuFunction[] = [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, TOP_FUNCTIONS)
    .map(({ frame, hits }) => ({
      function: frame.functionName || '(anonymous)',
      ...where(frame.url, cwd),
      line: frame.lineNumber + 1,
      selfSamples: hits,
      selfShare: busy > 0 ? round(hits / busy) : 0,
    }));
  return {
    samples,
    idleShare: samples > 0 ? round(idle / samples) : 0,
    gcShare: samples > 0 ? round(gc / samples) : 0,
    top,
  };
}

function where(url: string, cwd: string): Pick<CpuFunction, 'file' | 'origin'> {
  if (url === '' || url.startsWith('node:')) return { file: url, origin: 'node' };
  let path = url;
  if (url.startsWith('file:')) {
    try {
      path = fileURLToPath(url);
    } catch {
      return { file: url, origin: 'app' };
    }
  }
  const origin = path.includes(`${sep}node_modules${sep}`) ? 'dependency' : 'app';
  const inside = isAbsolute(path) ? relative(cwd, path) : path;
  return { file: inside.startsWith('..') ? path : inside, origin };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

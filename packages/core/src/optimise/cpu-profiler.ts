import { Session } from 'node:inspector';
import { findSourceMap, type SourceMap } from 'node:module';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.js';
import type { CpuFunction, CpuProfileReport } from './optimise-report.js';

/** Functions listed in a profile report. */
const TOP_FUNCTIONS = 10;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
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

/** A CPU profile being taken: `stop()` ends it and reads it. */
export interface RunningProfile {
  stop(): Promise<CpuProfileReport>;
}

/**
 * Starts sampling this process's CPU with V8's profiler, through
 * `node:inspector` in process (no debugger port is opened); `stop()` returns
 * the functions with the most self time, with file and line. Starting
 * blocks the event loop while V8 lists the code already compiled (tens to
 * hundreds of ms in a large app): the report's `startCostMs`, and with
 * stopping and reading the profile, its `costMs`.
 */
export async function startCpuProfile(
  samplingUs: number,
  clock: Clock,
  cwd: string = process.cwd(),
): Promise<RunningProfile> {
  let blocked = 0;
  const session = new Session();
  // Each call's own time only (in process the inspector answers within the call), not the awaits between.
  const timed = <T>(method: string, params?: object): Promise<T> => {
    const t = performance.now();
    const answer = post<T>(session, method, params);
    blocked += performance.now() - t;
    return answer;
  };
  const t = performance.now();
  session.connect();
  blocked += performance.now() - t;
  try {
    await timed('Profiler.enable');
    await timed('Profiler.setSamplingInterval', { interval: samplingUs });
    await timed('Profiler.start');
  } catch (error) {
    session.disconnect();
    throw error;
  }
  const startCostMs = round(blocked);
  const startedAt = clock.now();
  return {
    async stop() {
      try {
        const { profile } = await timed<{ profile: Profile }>('Profiler.stop');
        const t = performance.now();
        const report = summariseProfile(profile, cwd);
        blocked += performance.now() - t;
        return {
          startedAt,
          durationMs: clock.now() - startedAt,
          samplingUs,
          ...report,
          startCostMs,
          costMs: round(blocked),
        };
      } finally {
        session.disconnect();
      }
    },
  };
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
  const maps = new Map<string, SourceMap | undefined>();
  const top: CpuFunction[] = [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, TOP_FUNCTIONS)
    .map(({ frame, hits }) => ({
      function: frame.functionName || '(anonymous)',
      ...where(frame, cwd, maps),
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

/**
 * Where a function is: its file (relative to `cwd` when under it) and
 * 1-based line, mapped back to the source through the source map Node keeps
 * for the file when source maps are on (`--enable-source-maps`, tsx),
 * else the line of the code as loaded.
 */
function where(
  frame: CallFrame,
  cwd: string,
  maps: Map<string, SourceMap | undefined>,
): Pick<CpuFunction, 'file' | 'line' | 'origin'> {
  const { url } = frame;
  let line = frame.lineNumber + 1;
  if (url === '' || url.startsWith('node:')) return { file: url, line, origin: 'node' };
  let path = url;
  if (url.startsWith('file:')) {
    try {
      path = fileURLToPath(url);
    } catch {
      return { file: url, line, origin: 'app' };
    }
    if (!maps.has(path)) maps.set(path, sourceMapOf(path));
    const entry = maps.get(path)?.findEntry(frame.lineNumber, frame.columnNumber ?? 0) as
      | { originalSource?: string; originalLine?: number }
      | undefined;
    if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
      line = entry.originalLine + 1;
      try {
        path = entry.originalSource.startsWith('file:')
          ? fileURLToPath(entry.originalSource)
          : entry.originalSource;
      } catch {
        path = entry.originalSource;
      }
    }
  }
  const origin = path.includes(`${sep}node_modules${sep}`) ? 'dependency' : 'app';
  const inside = isAbsolute(path) ? relative(cwd, path) : path;
  return { file: inside.startsWith('..') ? path : inside, line, origin };
}

function sourceMapOf(path: string): SourceMap | undefined {
  try {
    return findSourceMap(path);
  } catch {
    return undefined;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

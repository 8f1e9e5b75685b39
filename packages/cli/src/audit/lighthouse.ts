// Lighthouse, loaded only by `keel audit` and only when installed: it is an
// optional peer dependency of @keel/cli, so installing the SDK stays light.

/** The version the checks below were written against (13.x needs Node 22). */
export const LIGHTHOUSE_VERSION = '12.2.3';

/** The parts of a Lighthouse result the audit reads. */
export interface LhrAudit {
  readonly id: string;
  readonly score: number | null;
  readonly scoreDisplayMode?: string;
  readonly numericValue?: number;
  readonly errorMessage?: string;
  readonly details?: {
    readonly overallSavingsMs?: number;
    readonly overallSavingsBytes?: number;
    readonly items?: readonly Record<string, unknown>[];
  };
}

export interface Lhr {
  readonly lighthouseVersion: string;
  readonly finalDisplayedUrl: string;
  readonly runtimeError?: { readonly code: string; readonly message: string };
  readonly runWarnings: readonly string[];
  readonly configSettings: {
    readonly formFactor: string;
    readonly throttling: { readonly rttMs: number; readonly throughputKbps: number };
  };
  readonly audits: Readonly<Record<string, LhrAudit>>;
}

export interface TraceEvent {
  readonly name: string;
  readonly args?: { readonly data?: Record<string, unknown> };
}

export interface LighthouseRun {
  readonly lhr: Lhr;
  readonly traceEvents: readonly TraceEvent[];
}

type LighthouseFn = (
  url: string,
  flags: Record<string, unknown>,
) => Promise<{ lhr: Lhr; artifacts: { Trace?: { traceEvents: TraceEvent[] } } } | undefined>;

/** A variable, so bundlers and the type checker leave the optional import alone. */
const LIGHTHOUSE = 'lighthouse';

/** Lighthouse's entry point, or `null` when the package is not installed. */
export async function loadLighthouse(): Promise<LighthouseFn | null> {
  try {
    const module = (await import(LIGHTHOUSE)) as { default: LighthouseFn };
    return module.default;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return null;
    throw error;
  }
}

/**
 * One Lighthouse navigation of `url` in the Chromium on `port`: the
 * performance category with Lighthouse's default mobile settings (simulated
 * throttling: 150 ms RTT, 1.6 Mbps, 4x CPU slowdown).
 */
export async function runLighthouse(
  lighthouse: LighthouseFn,
  url: string,
  port: number,
): Promise<LighthouseRun> {
  const result = await lighthouse(url, {
    port,
    output: 'json',
    logLevel: 'error',
    onlyCategories: ['performance'],
  });
  if (!result) throw new Error(`Lighthouse returned no result for ${url}`);
  if (result.lhr.runtimeError)
    throw new Error(`Lighthouse could not load ${url}: ${result.lhr.runtimeError.message}`);
  return { lhr: result.lhr, traceEvents: result.artifacts.Trace?.traceEvents ?? [] };
}

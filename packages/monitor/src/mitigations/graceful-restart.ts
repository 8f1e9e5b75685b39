import { budgetBreached } from './http-breach.js';
import { checkFactoryOptions, type Mitigation } from './mitigation.js';

export interface GracefulRestartOptions {
  /**
   * Drains the app before exit, e.g. `() => k.shutdown()` from `@keel/express`
   * (readiness 503, in-flight requests finish, cleanups run).
   * @default readiness off, then `drainMs` of waiting
   */
  drain?: () => unknown;
  /** Wait after readiness turns off when there is no `drain`, ms. @default 5000 */
  drainMs?: number;
  /** How the process ends; tests pass their own. @default process.exit */
  exit?: (code: number) => unknown;
  /** @default 0: a planned restart, not a crash */
  exitCode?: number;
}

/**
 * The last resort: drain, then exit so the process manager or Kubernetes
 * starts a fresh instance. Irreversible, opt-in; offered only while a budget
 * is breached.
 */
export function gracefulRestart(options: GracefulRestartOptions = {}): Mitigation {
  checkFactoryOptions('gracefulRestart', options, ['drain', 'drainMs', 'exit', 'exitCode']);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  return {
    name: 'graceful-restart',
    description: 'drain, then exit for the process manager to restart',
    priority: 90,
    // Only for a broken budget: a restart takes this instance's capacity away while it drains.
    applicable: (ctx) => budgetBreached(ctx.report),
    async apply(ctx) {
      await ctx.flush();
      if (options.drain) await options.drain();
      else {
        ctx.keel.beginShutdown();
        const ms = options.drainMs ?? 5000;
        await new Promise<void>((resolve) => ctx.keel.config.clock.setTimeout(resolve, ms));
      }
      await ctx.flush();
      exit(options.exitCode ?? 0);
      return 'exit requested';
    },
  };
}

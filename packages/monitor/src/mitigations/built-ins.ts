import type { BuiltInMitigations } from '../options.js';
import { gracefulRestart } from './graceful-restart.js';
import type { Mitigation } from './mitigation.js';
import { openCircuit } from './open-circuit.js';
import { readinessOff } from './readiness-off.js';
import { serveStale } from './serve-stale.js';
import { shedLoad } from './shed-load.js';

/** The built-ins `builtIns` turns on, in the order they are registered. */
export function builtInMitigations(b: Readonly<BuiltInMitigations>): Mitigation[] {
  const out: Mitigation[] = [];
  if (b.serveStale !== false) out.push(serveStale(typeof b.serveStale === 'object' ? b.serveStale : {}));
  if (b.openCircuit !== false) out.push(openCircuit(typeof b.openCircuit === 'object' ? b.openCircuit : {}));
  if (b.shedLoad !== false) out.push(shedLoad());
  if (b.readinessOff === true) out.push(readinessOff());
  if (b.gracefulRestart)
    out.push(gracefulRestart(typeof b.gracefulRestart === 'object' ? b.gracefulRestart : {}));
  return out;
}

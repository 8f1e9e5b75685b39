import type { BuiltInMitigations } from '../options.js';
import { gracefulRestart } from './graceful-restart.js';
import type { Mitigation } from './mitigation.js';
import { openCircuit } from './open-circuit.js';
import { readinessOff } from './readiness-off.js';
import { serveStale } from './serve-stale.js';
import { shedLoad } from './shed-load.js';

/**
 * The built-ins `builtIns` turns on, in the order they are registered, and
 * the ones left off with why (for `/health`).
 */
export function builtInMitigations(b: Readonly<BuiltInMitigations>): {
  on: Mitigation[];
  off: { name: string; reason: string }[];
} {
  const on: Mitigation[] = [];
  const off: { name: string; reason: string }[] = [];
  const disabled = (name: string, key: string) =>
    off.push({ name, reason: `turned off (builtIns.${key}: false)` });
  const optIn = (name: string, key: string) => off.push({ name, reason: `opt-in (builtIns.${key}: true)` });
  if (b.serveStale !== false) on.push(serveStale(typeof b.serveStale === 'object' ? b.serveStale : {}));
  else disabled('serve-stale', 'serveStale');
  if (b.openCircuit !== false) on.push(openCircuit(typeof b.openCircuit === 'object' ? b.openCircuit : {}));
  else disabled('open-circuit', 'openCircuit');
  if (b.shedLoad !== false) on.push(shedLoad());
  else disabled('shed-load', 'shedLoad');
  if (b.readinessOff === true) on.push(readinessOff());
  else optIn('readiness-off', 'readinessOff');
  if (b.gracefulRestart)
    on.push(gracefulRestart(typeof b.gracefulRestart === 'object' ? b.gracefulRestart : {}));
  else optIn('graceful-restart', 'gracefulRestart');
  return { on, off };
}

import { formatDuration } from '../incidents/post-mortem.js';
import type { ActiveMitigation } from '../mitigations/registry.js';
import type { CycleHost } from './cycle-host.js';
import { judgeRelease } from './validation.js';

/** The cycle held healthy for the stability window: record it, then release what was kept. */
export async function finishStable(host: CycleHost): Promise<void> {
  const cycle = host.cycle;
  if (!cycle) return;
  host.step(
    'stable',
    null,
    `score >= ${host.config.healthyScore} for ${formatDuration(host.config.stabilityWindow)}`,
    cycle.baseline,
    host.measure(host.latest),
  );
  if (!host.config.releaseWhenStable) {
    host.end('stable');
    return;
  }
  await releaseNext(host);
}

/** Once stable, tries life without each kept mitigation, newest first: nothing stays on that is not needed. */
export async function releaseNext(host: CycleHost): Promise<void> {
  const cycle = host.cycle;
  if (!cycle || host.standingDown) return;
  const active = host.registry.active;
  let index = -1;
  for (let i = active.length - 1; i >= 0; i--) {
    if (active[i]!.mitigation.rollback) {
      index = i;
      break;
    }
  }
  if (index < 0) {
    host.end('stable');
    return;
  }
  const [entry] = active.splice(index, 1);
  const m = entry!.mitigation;
  const traffic = host.trafficBefore(false);
  const before = host.measure(host.latest, traffic.rates);
  try {
    await m.rollback!(host.context(host.latest, 'stable: releasing'));
  } catch (error) {
    host.keel.reportError(`mitigation:${m.name}`, error);
    active.splice(index, 0, entry!);
    host.step('rollback-failed', m.name, 'release failed; left in place', before, null);
    host.end('stable');
    return;
  }
  host.step(
    'release-trial',
    m.name,
    `rolled back on trial; re-measured in ${formatDuration(host.config.validateAfter)}`,
    before,
    null,
  );
  host.validateLater(cycle, m.name, host.now(), before, '', traffic.now, () => checkRelease(host, entry!));
}

/** Measures life without a released mitigation: still healthy → gone for good; else re-applied. */
async function checkRelease(host: CycleHost, entry: ActiveMitigation): Promise<void> {
  const cycle = host.cycle;
  const current = cycle?.current;
  if (!cycle || !current || host.standingDown) return;
  cycle.current = null;
  const after = host.measure(host.latest, host.trafficSince(current.since));
  const m = entry.mitigation;
  const { needed, effect } = judgeRelease(current.before, after, host.healthy(host.latest), host.config);
  if (!needed) {
    host.step('released', m.name, `no longer needed: ${effect}`, current.before, after);
    await releaseNext(host);
    return;
  }
  try {
    await m.apply(host.context(host.latest, 'still needed after release'));
    host.registry.active.push(entry);
    host.step('reapplied', m.name, `still needed: ${effect}`, current.before, after);
  } catch (error) {
    host.keel.reportError(`mitigation:${m.name}`, error);
    host.step('apply-failed', m.name, 're-applying after a failed release failed', current.before, after);
  }
  host.end('stable');
}

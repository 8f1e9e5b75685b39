import { round } from '../measure.js';
import type { IncidentNotification, NotificationType } from '../notify/notifier.js';
import { isoTime } from '../time.js';
import type { Incident } from './incident.js';
import { formatDuration } from './post-mortem.js';

/** The notification announcing a change of `incident`, as of now. */
export function incidentMessage(
  incident: Incident,
  type: NotificationType,
  score: number | null,
  at: number,
): IncidentNotification {
  const trigger = incident.during?.budgets[incident.triggers[0] ?? ''];
  const detail =
    type === 'incident.resolved'
      ? `resolved after ${formatDuration((incident.resolvedAt ?? at) - incident.openedAt)}`
      : trigger && trigger.value !== null
        ? `${incident.triggers[0]} ${round(trigger.value)} ${trigger.unit} vs ${trigger.target} ${trigger.unit}`
        : incident.severityReason;
  const message: IncidentNotification = {
    deliveryId: `${incident.id}:${type}:${at}`,
    type,
    service: incident.service,
    at: new Date(at).toISOString(),
    incident: {
      id: incident.id,
      title: incident.title,
      severity: incident.severity,
      severityReason: incident.severityReason,
      status: incident.status,
      triggers: [...incident.triggers],
      openedAt: isoTime(incident.openedAt)!,
      resolvedAt: isoTime(incident.resolvedAt),
      score,
    },
    text: `[${incident.severity}] ${incident.service}: ${incident.title} — ${detail}${score === null ? '' : ` (score ${score})`}`,
    ...(type === 'incident.resolved' && incident.postMortem ? { postMortem: incident.postMortem } : {}),
  };
  return message;
}

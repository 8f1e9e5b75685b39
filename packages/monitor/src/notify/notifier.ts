import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { KeelError, KeelErrorCode } from '@keel/core';
import type { Severity, TriedMitigation } from '../incidents/incident.js';

export type NotificationType =
  | 'incident.opened'
  | 'incident.escalated'
  | 'incident.mitigated'
  | 'incident.resolved';

/** What every notifier receives. Webhooks get exactly this as their JSON body. */
export interface IncidentNotification {
  /** Same on every retry of one message, so a receiver can drop duplicates. */
  readonly deliveryId: string;
  readonly type: NotificationType;
  readonly service: string;
  /** ISO time of the event. */
  readonly at: string;
  readonly incident: {
    readonly id: string;
    readonly title: string;
    readonly severity: Severity;
    readonly severityReason: string;
    readonly status: 'open' | 'resolved';
    readonly triggers: readonly string[];
    readonly openedAt: string;
    readonly resolvedAt: string | null;
    readonly score: number | null;
  };
  /** One line for people: `[SEV2] studio-api: api_latency breached (p95 812 ms vs 200 ms)`. */
  readonly text: string;
  /** The Markdown post-mortem, on `incident.resolved`. */
  readonly postMortem?: string;
  /** On the `incident.escalated` sent when no mitigation helped: what was tried and what it measurably did. */
  readonly tried?: readonly TriedMitigation[];
}

/**
 * Delivers notifications. `send` should reject on failure and honour the
 * signal, which aborts when the attempt times out.
 */
export interface Notifier {
  readonly name: string;
  send(notification: IncidentNotification, signal: AbortSignal): Promise<unknown> | unknown;
}

export interface WebhookNotifierOptions {
  url: string;
  /**
   * Signs each body: `x-keel-signature: sha256=<hex HMAC-SHA256 of "<x-keel-timestamp>.<body>">`.
   * Check it (and that the timestamp is recent) before trusting a delivery.
   * @default unsigned
   */
  secret?: string;
  /** Extra headers, e.g. an `authorization` for the receiver. */
  headers?: Record<string, string>;
  /** @default 'webhook' */
  name?: string;
}

/** The signature a receiver should compute to check a delivery. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function checkUrl(where: string, url: unknown): URL {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new KeelError(KeelErrorCode.InvalidOption, `${where}: \`url\` must be an absolute http(s) URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new KeelError(KeelErrorCode.InvalidOption, `${where}: \`url\` must be http: or https:.`);
  return parsed;
}

/** POSTs JSON; resolves on 2xx, rejects otherwise. One socket per call (no keep-alive left behind). */
export function postJson(
  url: URL,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        agent: false,
        signal,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'keel-monitor',
          ...headers,
        },
      },
      (res) => {
        // Drain, but cap what is read: a receiver may answer with anything.
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(status);
          else reject(new Error(`${url.host} answered ${status}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A generic JSON webhook, HMAC-signed when `secret` is set. */
export function webhookNotifier(options: WebhookNotifierOptions): Notifier {
  const url = checkUrl('webhookNotifier', options?.url);
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length === 0))
    throw new KeelError(KeelErrorCode.InvalidOption, 'webhookNotifier: `secret` must be a non-empty string.');
  const extra = { ...options.headers };
  return {
    name: options.name ?? 'webhook',
    send(notification, signal) {
      const body = JSON.stringify(notification);
      const headers: Record<string, string> = {
        ...extra,
        'x-keel-event': notification.type,
        'x-keel-delivery': notification.deliveryId,
      };
      if (options.secret) {
        const timestamp = String(Math.floor(Date.parse(notification.at) / 1000));
        headers['x-keel-timestamp'] = timestamp;
        headers['x-keel-signature'] = signWebhook(options.secret, timestamp, body);
      }
      return postJson(url, body, headers, signal);
    },
  };
}

export interface SlackNotifierOptions {
  /** A Slack (or Mattermost, Rocket.Chat, ...) incoming-webhook URL. */
  url: string;
  /** @default 'slack' */
  name?: string;
}

const EMOJI: Record<IncidentNotification['type'], string> = {
  'incident.opened': ':rotating_light:',
  'incident.escalated': ':arrow_double_up:',
  'incident.mitigated': ':adhesive_bandage:',
  'incident.resolved': ':white_check_mark:',
};

/** An incoming-webhook message (`{ text }` in Slack's mrkdwn), understood by Slack-compatible chats. */
export function slackNotifier(options: SlackNotifierOptions): Notifier {
  const url = checkUrl('slackNotifier', options?.url);
  return {
    name: options.name ?? 'slack',
    send(n, signal) {
      const lines = [
        `${EMOJI[n.type]} *${n.text}*`,
        `incident \`${n.incident.id}\` · ${n.incident.severityReason}`,
      ];
      if (n.type === 'incident.resolved' && n.postMortem) lines.push('_post-mortem written_');
      return postJson(url, JSON.stringify({ text: lines.join('\n') }), {}, signal);
    },
  };
}

/** Hands each notification to your function (page someone, write a ticket). A rejection is retried. */
export function functionNotifier(
  fn: (notification: IncidentNotification, signal: AbortSignal) => unknown,
  name = 'function',
): Notifier {
  if (typeof fn !== 'function')
    throw new KeelError(KeelErrorCode.InvalidOption, 'functionNotifier: needs a function.');
  return { name, send: (n, signal) => fn(n, signal) };
}

/** A test double: keeps what it received. */
export interface MemoryNotifier extends Notifier {
  readonly received: IncidentNotification[];
}

export function memoryNotifier(name = 'memory'): MemoryNotifier {
  const received: IncidentNotification[] = [];
  return {
    name,
    received,
    send(n) {
      received.push(n);
    },
  };
}

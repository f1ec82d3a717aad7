/**
 * Slack's Events API delivery in front of several replicas, as a load balancer sees it: each
 * event goes to the next request URL in turn (round robin), and Slack's retries (up to 3, with
 * `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`) go to the next URL again, so a retry lands on
 * another replica than the attempt it repeats. Slack retries when no 2xx came within 3 s
 * (`http_timeout`, without waiting for the late answer: the first attempt may still be running),
 * when the connection failed (`connection_failed`) or on any other status (`http_error`).
 * Slack waits a minute, then five, between later retries; here the waits are options (default
 * none), so a test is not slowed by them. Every attempt is logged.
 */
import { EventLog } from '../discord/event-log.js';
import type { FakeSlack } from './fake-slack.js';

export type RetryReason = 'http_timeout' | 'connection_failed' | 'http_error';

export interface DeliveryAttempt {
  readonly eventId: string;
  /** The event's message ts, when it has one. */
  readonly ts?: string;
  readonly url: string;
  /** 0 for the first attempt, then Slack's `X-Slack-Retry-Num`. */
  readonly retryNum: number;
  readonly reason?: RetryReason;
  /** What came of it: acked (2xx), or why Slack will retry. */
  readonly outcome: 'acked' | RetryReason;
  readonly status?: number;
  readonly at: number;
}

export interface DeliveryResult {
  readonly eventId: string;
  /** The attempt that was acked, or undefined when all four failed (Slack gives up). */
  readonly acked?: DeliveryAttempt;
  readonly attempts: readonly DeliveryAttempt[];
}

export interface EventDeliveryOptions {
  /** How long Slack waits for a 2xx before it retries (Slack: 3 s). */
  readonly ackTimeoutMs?: number;
  /** Waits before retries 1, 2 and 3 (Slack: at once, 1 min, 5 min). Default: none. */
  readonly retryDelaysMs?: readonly [number, number, number];
}

const MAX_RETRIES = 3;

export class SlackEventDelivery {
  readonly attempts = new EventLog<DeliveryAttempt>((a) => `${a.eventId} #${a.retryNum} → ${a.url}: ${a.outcome}`);
  private next = 0;
  private readonly ackTimeoutMs: number;
  private readonly retryDelaysMs: readonly number[];

  constructor(
    private readonly slack: FakeSlack,
    /** The replicas' `/slack/events` URLs; may be changed while running (a replica leaves or joins). */
    public urls: readonly string[],
    options: EventDeliveryOptions = {},
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 3_000;
    this.retryDelaysMs = options.retryDelaysMs ?? [0, 0, 0];
  }

  /**
   * Delivers `event` the way Slack does: to the next URL in turn, retried on the following ones
   * until one acks or four attempts failed. `duplicate` also sends retry 1 to the next replica after
   * the first attempt was acked, as Slack does when the ack reached it late (the race a replica
   * must survive: the same event taken in twice at the same time on two processes).
   */
  async deliver(event: Record<string, unknown>, options: { eventId?: string; duplicate?: boolean } = {}): Promise<DeliveryResult> {
    const body = this.slack.envelopeFor(event, options.eventId);
    const eventId = String(body.event_id);
    const raw = JSON.stringify(body);
    const attempts: DeliveryAttempt[] = [];
    let acked: DeliveryAttempt | undefined;
    let reason: RetryReason | undefined;
    // The first attempt takes the next URL in turn; each retry the URL after the one it repeats.
    const first = this.next;
    this.next += 1;
    for (let retryNum = 0; retryNum <= MAX_RETRIES; retryNum += 1) {
      if (retryNum > 0) await wait(this.retryDelaysMs[retryNum - 1] ?? 0);
      const attempt = await this.attempt(first + retryNum, raw, eventId, retryNum, reason, event.ts);
      attempts.push(attempt);
      if (attempt.outcome === 'acked') {
        acked = attempt;
        break;
      }
      reason = attempt.outcome;
    }
    if (acked !== undefined && acked.retryNum === 0 && options.duplicate === true) {
      attempts.push(await this.attempt(first + 1, raw, eventId, 1, 'http_timeout', event.ts));
    }
    return { eventId, ...(acked === undefined ? {} : { acked }), attempts };
  }

  /** One signed POST to the next URL; resolves when it is acked or Slack would stop waiting. */
  private async attempt(index: number, raw: string, eventId: string, retryNum: number, reason: RetryReason | undefined, ts: unknown): Promise<DeliveryAttempt> {
    const url = this.urls[index % this.urls.length] as string;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.ackTimeoutMs);
    let outcome: DeliveryAttempt['outcome'];
    let status: number | undefined;
    try {
      const response = await this.slack.sendHttp(url, raw, { ...(retryNum === 0 ? {} : { retryNum, retryReason: reason }), signal: controller.signal });
      status = response.status;
      outcome = status >= 200 && status < 300 ? 'acked' : 'http_error';
    } catch (error) {
      outcome = controller.signal.aborted ? 'http_timeout' : 'connection_failed';
      void error;
    } finally {
      clearTimeout(timer);
    }
    const attempt: DeliveryAttempt = { eventId, ...(typeof ts === 'string' ? { ts } : {}), url, retryNum, ...(reason === undefined ? {} : { reason }), outcome, ...(status === undefined ? {} : { status }), at: Date.now() };
    this.attempts.push(attempt);
    return attempt;
  }
}

function wait(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}

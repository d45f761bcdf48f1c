import { StripeUsageError } from '../errors';
import type { FakeStripe } from './fake-stripe';
import type { JsonObject } from './params';
import { seededRandom } from './random';
import { stripeSignatureHeader } from './signature';

/** How a sender misbehaves, as Stripe may: each probability applies per event, from a seeded source. */
export interface WebhookChaos {
  /** Probability that an event is delivered twice (the copy goes out later, with a new `t`). @default 0 */
  duplicate?: number;
  /** Probability that an event is moved to a random place in the delivery order. @default 0 */
  reorder?: number;
  /** Probability that an event is never delivered (it stays pending in `/v1/events`). @default 0 */
  drop?: number;
  /** Probability and length of a pause before a delivery. @default none */
  delay?: { probability: number; ms: number };
}

/** Options for {@link createWebhookSender}. */
export interface WebhookSenderOptions {
  /** Where deliveries go: a URL, or a handler that takes a `Request` (no network). */
  target: string | ((request: Request) => Promise<Response>);
  /** The endpoint secret (`whsec_…`), or several during a rotation (one `v1` each). */
  secret: string | readonly string[];
  /** Misbehaviour to inject. @default none */
  chaos?: WebhookChaos;
  /** Seed of the chaos decisions. @default 1 */
  seed?: number;
  /** Attempts per delivery, the first included (test mode retries three times). @default 4 */
  maxAttempts?: number;
  /** Pause before the first retry round; it doubles each round. @default 100 */
  retryDelayMs?: number;
  /** Deliveries in flight at once. @default 8 */
  concurrency?: number;
  /** Abort a delivery that takes longer. @default 10_000 */
  timeoutMs?: number;
  /** Add Stripe's test-mode `v0` signature to events with `livemode: false`. @default true */
  v0?: boolean;
  /** The clock for each delivery's `t`, in milliseconds. @default Date.now */
  now?: () => number;
  /** How to wait (delays, retry rounds). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/** One delivery attempt, for assertions. */
export interface DeliveryAttempt {
  eventId: string;
  /** 1 for the first attempt of this copy. */
  attempt: number;
  /** The signed timestamp. */
  timestamp: number;
  /** HTTP status, or 0 when the request failed without a response. */
  status: number;
}

/** What one {@link WebhookSender.flush} did. */
export interface DeliveryReport {
  /** Events taken from the queue. */
  events: number;
  /** HTTP attempts made. */
  attempts: number;
  /** Events with at least one 2xx answer. */
  delivered: number;
  /** Extra copies sent. */
  duplicated: number;
  /** Events moved out of order. */
  reordered: number;
  /** Ids of the events never sent. */
  dropped: string[];
  /** Ids of the events whose every attempt failed. */
  failed: string[];
}

/** Delivers a fake Stripe's events to an endpoint, signed as Stripe signs them. */
export interface WebhookSender {
  /** Events waiting for the next flush. */
  readonly queued: number;
  /** Every attempt so far. */
  readonly attempts: readonly DeliveryAttempt[];
  /** Queues an event that did not come from the fake (a thin event, a malformed one, ...). */
  enqueue(event: JsonObject): void;
  /** Delivers everything queued, with chaos and retries. */
  flush(): Promise<DeliveryReport>;
  /** Stops listening to the fake's events. */
  close(): void;
}

function checkSenderOptions(options: WebhookSenderOptions): void {
  const fail = (message: string) => new StripeUsageError('createWebhookSender', 'invalid_options', message);
  if (typeof options !== 'object' || options === null) throw fail('options must be an object');
  const { target, secret } = options;
  if (typeof target === 'string') {
    if (!URL.canParse(target)) throw fail('target must be a URL or a (request) => Promise<Response> function');
  } else if (typeof target !== 'function')
    throw fail('target must be a URL or a (request) => Promise<Response> function');
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!Array.isArray(secrets) || secrets.length === 0 || !secrets.every((s) => typeof s === 'string' && s.length > 0))
    throw fail('secret must be a non-empty string or a list of them');
  const chaos = options.chaos ?? {};
  for (const name of ['duplicate', 'reorder', 'drop'] as const) {
    const p = chaos[name];
    if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p <= 1)))
      throw fail(`chaos.${name} must be a probability in [0, 1]`);
  }
  if (chaos.delay !== undefined) {
    const { probability, ms } = chaos.delay;
    if (!(probability >= 0 && probability <= 1) || !(ms >= 0))
      throw fail('chaos.delay needs a probability in [0, 1] and ms >= 0');
  }
  const positive = (value: number | undefined, name: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw fail(`${name} must be a positive integer`);
  };
  positive(options.maxAttempts, 'maxAttempts');
  positive(options.concurrency, 'concurrency');
  positive(options.timeoutMs, 'timeoutMs');
  if (options.retryDelayMs !== undefined && !(options.retryDelayMs >= 0)) throw fail('retryDelayMs must be >= 0');
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates a webhook sender: each event is posted as pretty-printed JSON with
 * a `Stripe-Signature` computed as Stripe does, a fresh `t` on every attempt,
 * and retried after failures (non-2xx, network error, timeout). With `chaos`
 * it duplicates, reorders, delays and drops events. When given a fake, it
 * receives the fake's events and marks them delivered, so `/v1/events` with
 * `delivery_success=false` shows exactly what did not arrive.
 *
 * @example
 * ```ts
 * const sender = createWebhookSender(fake, { target: app.fetch, secret: 'whsec_test', chaos: { duplicate: 0.3 } });
 * await sender.flush();
 * ```
 */
export function createWebhookSender(fake: FakeStripe | undefined, options: WebhookSenderOptions): WebhookSender {
  checkSenderOptions(options);
  const random = seededRandom(options.seed ?? 1);
  const chaos = options.chaos ?? {};
  const maxAttempts = options.maxAttempts ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const withV0 = options.v0 ?? true;
  const queue: JsonObject[] = [];
  const attempts: DeliveryAttempt[] = [];
  const registration = fake?.registerEndpoint((event) => queue.push(event));

  const post = async (request: Request): Promise<number> => {
    const target = options.target;
    try {
      const signal = AbortSignal.timeout(timeoutMs);
      const response =
        typeof target === 'string'
          ? await fetch(target, { method: 'POST', headers: request.headers, body: await request.text(), signal })
          : await Promise.race([
              target(request),
              new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
            ]);
      await response.arrayBuffer().catch(() => undefined);
      return response.status;
    } catch {
      return 0;
    }
  };

  const deliver = async (event: JsonObject, attempt: number): Promise<boolean> => {
    if (chaos.delay && random.chance(chaos.delay.probability)) await sleep(chaos.delay.ms);
    const payload = JSON.stringify(event, null, 2);
    const timestamp = Math.floor(now() / 1000);
    const signature = await stripeSignatureHeader({
      payload,
      secret: options.secret,
      timestamp,
      v0: withV0 && event.livemode !== true,
    });
    const url = typeof options.target === 'string' ? options.target : 'http://127.0.0.1/webhooks/stripe';
    const status = await post(
      new Request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signature,
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
        },
        body: payload,
      }),
    );
    attempts.push({ eventId: event.id as string, attempt, timestamp, status });
    const ok = status >= 200 && status < 300;
    if (ok) registration?.delivered(event.id as string);
    return ok;
  };

  const runAll = async (events: JsonObject[], attempt: number): Promise<JsonObject[]> => {
    const failed: JsonObject[] = [];
    let next = 0;
    const worker = async () => {
      while (next < events.length) {
        const event = events[next++] as JsonObject;
        if (!(await deliver(event, attempt))) failed.push(event);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, events.length) }, worker));
    return failed;
  };

  return {
    get queued() {
      return queue.length;
    },
    attempts,
    enqueue(event) {
      queue.push(structuredClone(event));
    },
    async flush() {
      const batch = queue.splice(0, queue.length);
      const report: DeliveryReport = {
        events: batch.length,
        attempts: 0,
        delivered: 0,
        duplicated: 0,
        reordered: 0,
        dropped: [],
        failed: [],
      };
      const order: JsonObject[] = [];
      for (const event of batch) {
        if (random.chance(chaos.drop ?? 0)) {
          report.dropped.push(event.id as string);
          continue;
        }
        order.push(event);
      }
      for (const event of [...order]) {
        if (!random.chance(chaos.duplicate ?? 0)) continue;
        const at = order.indexOf(event);
        order.splice(at + 1 + random.int(order.length - at), 0, event);
        report.duplicated++;
      }
      for (const event of [...order]) {
        if (!random.chance(chaos.reorder ?? 0)) continue;
        order.splice(order.indexOf(event), 1);
        order.splice(random.int(order.length + 1), 0, event);
        report.reordered++;
      }
      const before = attempts.length;
      let failed = await runAll(order, 1);
      for (let attempt = 2; attempt <= maxAttempts && failed.length > 0; attempt++) {
        await sleep(retryDelayMs * 2 ** (attempt - 2));
        failed = await runAll(failed, attempt);
      }
      const made = attempts.slice(before);
      report.attempts = made.length;
      const succeeded = new Set(made.filter((a) => a.status >= 200 && a.status < 300).map((a) => a.eventId));
      report.delivered = succeeded.size;
      report.failed = [...new Set(failed.map((e) => e.id as string))].filter((id) => !succeeded.has(id));
      return report;
    },
    close() {
      registration?.close();
    },
  };
}

import { isBallastError } from '../errors';
import { logOnceReporter, safeReporter } from '../internal/report';
import { DEFAULT_MAX_BODY_BYTES } from '../webhooks/body/limits';
import { readRequestBody } from '../webhooks/body/request';
import { isWebhookVerificationError, WEBHOOK_ERROR_STATUS, WebhookVerificationError } from '../webhooks/errors';
import type { VerifiedWebhook, VerifyWebhookOptions, WebhookHeaders } from '../webhooks/types';
import { createWebhookVerifier } from '../webhooks/verify';
import { InboxError, isInboxError } from './errors';
import type { InboxHandlers } from './handlers';
import type { Inbox } from './inbox';
import { assertSource } from './prepare';
import type { InboxQueue } from './queue';
import { recordHeaders } from './scheme-headers';
import { createInboxWorker, type InboxWorker, type InboxWorkerOptions, inboxTopic } from './worker';

/** What a `verify` function receives: the raw body (already size-checked) and the headers. */
export interface WebhookDelivery {
  body: Uint8Array;
  headers: WebhookHeaders;
}

/** Verifies a delivery; rejects with a `WebhookVerificationError` when it is not genuine. */
export type DeliveryVerifier = (delivery: WebhookDelivery) => Promise<VerifiedWebhook>;

/** Options for {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  /** The provider's name, part of the dedupe key and the queue topic, e.g. `stripe`. */
  source: string;
  /**
   * How deliveries are verified: `verifyWebhook` options (`{ scheme, secret }`),
   * or a function such as `createWebhookVerifier(...)`.
   */
  verify: VerifyWebhookOptions | DeliveryVerifier;
  /** Where verified events are stored before the 200: `sqlInbox(db)` or `memoryInbox()`. */
  inbox: Inbox;
  /**
   * Handlers by event type. When given, a worker processes this source's events
   * in this process (`handler.worker`). Leave it out for an ingest-only
   * endpoint whose events are processed by workers elsewhere.
   */
  on?: InboxHandlers;
  /**
   * How stored events reach workers. With `on`, the worker consumes it; without,
   * the endpoint only publishes to it (e.g. a shared `pgBossQueue`).
   * @default inProcessQueue() when `on` is given; none otherwise
   */
  queue?: InboxQueue;
  /**
   * Worker settings (concurrency, lease, retry, sweep, idempotency), used with
   * `on`; `false` builds no worker even with `on` (an ingest-only endpoint for
   * serverless hosts, whose events `drainInbox` processes from a scheduled
   * function, a cron or `waitUntil`).
   * @default {} (a worker with the defaults, when `on` is given)
   */
  worker?: Omit<InboxWorkerOptions, 'inbox' | 'source' | 'on' | 'queue'> | false;
  /**
   * The event type of a verified delivery.
   * @default the type the scheme read (e.g. GitHub's `X-GitHub-Event` header), else the payload's `type` field, else `''`
   */
  eventType?: (event: VerifiedWebhook) => string;
  /**
   * The largest body accepted, in bytes; larger ones get 413 without being read further.
   * @default 1_048_576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * How long the whole body may take to arrive, in milliseconds, counted from when reading starts.
   * A sender that stalls or trickles past it gets 408 `body_timeout` and the connection is closed,
   * so a slow client cannot hold the endpoint open for the server's own request timeout (5 minutes
   * in node:http). Providers send the whole body at once.
   * @default 10_000
   */
  bodyTimeoutMs?: number;
  /**
   * Called with store failures, a misconfigured route (`body_already_parsed`,
   * a bad secret) and other unexpected errors; the response is already decided.
   * @default a reporter that logs each distinct cause once to `console.error`
   */
  onError?: (error: unknown) => void;
}

/** A framework-neutral delivery, as adapters hand it over. */
export interface DeliveryInput {
  method: string;
  headers: WebhookHeaders;
  /** The raw body, or a reader that enforces `maxBytes`. */
  body: Uint8Array | ((maxBytes: number) => Promise<Uint8Array>);
}

/** The response to send, framework-neutral. */
export interface DeliveryResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A Web-standard webhook endpoint: `(request) => Promise<Response>`, plus its worker and the neutral core. */
export interface WebhookHandler {
  (request: Request): Promise<Response>;
  /** Handles a delivery given as raw parts; adapters call this. */
  handle(input: DeliveryInput): Promise<DeliveryResponse>;
  /** The source this endpoint stores events for. */
  readonly source: string;
  /** The largest body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** How long the whole body may take to arrive, in milliseconds. */
  readonly bodyTimeoutMs: number;
  /** The worker processing this source's events in this process, when `on` was given (and `worker` was not `false`). */
  readonly worker: InboxWorker | undefined;
  /** Stops the worker (and the publishing to the queue); the inbox stays open. */
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const STORED = '{"received":true,"duplicate":false}';
const DUPLICATE = '{"received":true,"duplicate":true}';

const reply = (status: number, body: string, headers: Record<string, string> = {}): DeliveryResponse => ({
  status,
  headers: { ...JSON_HEADERS, ...headers },
  body,
});
const errorReply = (status: number, code: string, headers?: Record<string, string>) =>
  reply(status, JSON.stringify({ error: code }), headers);

/**
 * 413: the rest of the body was never read, so the connection cannot carry another request (its
 * next bytes are this body's): `Connection: close` makes the server close it after the answer.
 */
const tooLarge = () => errorReply(413, 'body_too_large', { connection: 'close' });

/** The default of `bodyTimeoutMs`. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/**
 * Reads the body with a deadline. On expiry the read is abandoned (its later settlement is ignored)
 * and the answer carries `Connection: close`, which makes the server drop the half-sent request.
 */
function readWithin(read: Promise<Uint8Array>, ms: number): Promise<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new WebhookVerificationError(
            'body_timeout',
            `the body did not arrive within ${ms} ms`,
            {},
            'createWebhookHandler',
          ),
        ),
      ms,
    );
  });
  read.catch(() => {});
  return Promise.race([read, deadline]).finally(() => clearTimeout(timer));
}

/** Turns the `verify` option into a verifier function, checking it once. */
function resolveVerifier(verify: WebhookHandlerOptions['verify']): DeliveryVerifier {
  if (typeof verify === 'function') return verify;
  if (typeof verify === 'object' && verify !== null) {
    if (verify.payload !== undefined && verify.payload !== 'json') {
      // the inbox stores a JSON object (and keeps the raw bytes beside it); raw bytes as the payload
      // would be stored as {"0":123,...}
      throw new InboxError(
        'createWebhookHandler',
        'invalid_options',
        `verify.payload must be 'json' (the default): the inbox stores the parsed payload and keeps the raw body itself, got ${JSON.stringify(verify.payload)}`,
      );
    }
    return createWebhookVerifier(verify);
  }
  throw new InboxError('createWebhookHandler', 'invalid_options', 'verify must be verifyWebhook options or a function');
}

/** The response to an `ingest` failure: 400 for the event's own fault, 503 (retry later) for the rest. */
function ingestFailure(error: unknown): DeliveryResponse {
  if (isInboxError(error) && error.code === 'invalid_event') return errorReply(400, 'invalid_event');
  const code = isInboxError(error) && error.code === 'overloaded' ? 'overloaded' : 'store_unavailable';
  return errorReply(503, code, { 'retry-after': code === 'overloaded' ? '1' : '5' });
}

/**
 * Creates a webhook endpoint that verifies each delivery, stores it durably in
 * the inbox (group-committed), and answers only then: 200 for a stored event
 * or a duplicate, 400/401 with the verification error code for a bad
 * delivery, 413 for an oversized body, 503 (with `Retry-After`) when the store
 * cannot be reached so the provider retries. Never a 200 for an event that was
 * not stored. With `on`, a worker processes the events off the request path.
 *
 * @example
 * ```ts
 * const webhook = createWebhookHandler({
 *   source: 'stripe',
 *   verify: { scheme: 'stripe', secret: process.env.STRIPE_WEBHOOK_SECRET ?? '' },
 *   inbox: sqlInbox(db),
 *   on: { 'invoice.paid': async (event) => markPaid(event.payload) },
 * });
 * export const POST = toNextRoute(webhook);
 * ```
 */
export function createWebhookHandler(options: WebhookHandlerOptions): WebhookHandler {
  const api = 'createWebhookHandler';
  if (typeof options !== 'object' || options === null) {
    throw new InboxError(api, 'invalid_options', 'options must be an object');
  }
  const source = assertSource(api, options.source, 'invalid_options');
  const { inbox, on, queue } = options;
  if (typeof inbox?.ingest !== 'function') {
    throw new InboxError(api, 'invalid_options', 'inbox must be an Inbox (sqlInbox(db) or memoryInbox())');
  }
  const verify = resolveVerifier(options.verify);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1) {
    throw new InboxError(
      api,
      'invalid_options',
      `maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`,
    );
  }
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  if (!Number.isInteger(bodyTimeoutMs) || bodyTimeoutMs < 1 || bodyTimeoutMs > 2_147_483_647) {
    throw new InboxError(
      api,
      'invalid_options',
      `bodyTimeoutMs must be a positive integer of milliseconds, got ${String(bodyTimeoutMs)}`,
    );
  }
  const { eventType } = options;
  if (eventType !== undefined && typeof eventType !== 'function') {
    throw new InboxError(api, 'invalid_options', 'eventType must be a function (event) => string');
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new InboxError(api, 'invalid_options', 'onError must be a function (error) => void');
  }
  // an observer's failure must not change the response
  const report = safeReporter(options.onError ?? logOnceReporter(`webhook ${source}`));

  let worker: InboxWorker | undefined;
  let unpublish: (() => void) | undefined;
  const workerOptions = options.worker;
  if (
    workerOptions !== undefined &&
    workerOptions !== false &&
    (typeof workerOptions !== 'object' || workerOptions === null)
  ) {
    throw new InboxError(api, 'invalid_options', 'worker must be false or worker options');
  }
  if (on !== undefined && workerOptions !== false) {
    // without any onError, the worker's default reporter makes its errors visible
    const workerOnError = workerOptions?.onError ?? (options.onError === undefined ? undefined : report);
    worker = createInboxWorker({
      ...workerOptions,
      inbox,
      source,
      on,
      ...(queue === undefined ? {} : { queue }),
      ...(workerOnError === undefined ? {} : { onError: workerOnError }),
    });
    worker.start().catch(report);
  } else if (queue !== undefined) {
    const topic = inboxTopic(source);
    unpublish = inbox.subscribe((keys) => {
      const mine = keys.filter((k) => k.source === source);
      if (mine.length > 0) queue.send(topic, mine).catch(report);
    });
  }

  async function handle(input: DeliveryInput): Promise<DeliveryResponse> {
    if (input.method !== 'POST') return errorReply(405, 'method_not_allowed', { allow: 'POST' });
    let verified: VerifiedWebhook;
    const headers = recordHeaders(input.headers);
    try {
      const body =
        typeof input.body === 'function' ? await readWithin(input.body(maxBodyBytes), bodyTimeoutMs) : input.body;
      if (body.byteLength > maxBodyBytes) return tooLarge();
      verified = await verify({ body, headers: headers.view });
    } catch (error) {
      if (isWebhookVerificationError(error)) {
        if (error.code === 'body_too_large') return tooLarge();
        if (error.code === 'body_timeout') return errorReply(408, 'body_timeout', { connection: 'close' });
        const status = WEBHOOK_ERROR_STATUS[error.code] ?? 400;
        if (status === 500) report(error);
        return errorReply(status, error.code);
      }
      report(error);
      return errorReply(isBallastError(error) ? 400 : 500, isBallastError(error) ? error.code : 'internal_error');
    }
    let type: string | undefined;
    try {
      // the scheme's type (from a header such as X-GitHub-Event) unless eventType overrides it;
      // without either, the inbox reads the payload's `type`
      type = eventType === undefined ? verified.type : eventType(verified);
    } catch (error) {
      report(error);
      return errorReply(400, 'invalid_event');
    }
    try {
      const result = await inbox.ingest(source, {
        id: verified.id,
        payload: verified.payload,
        type,
        rawBody: verified.rawBody,
        headers: headers.read(),
      });
      return reply(200, result.outcome === 'stored' ? STORED : DUPLICATE);
    } catch (error) {
      const response = ingestFailure(error);
      if (response.status >= 500) report(error);
      return response;
    }
  }

  const handler = async (request: Request): Promise<Response> => {
    const result = await handle({
      method: request.method,
      headers: request.headers,
      // the same deadline as the handler's own: past it the stream is cancelled too, not left reading
      body: (maxBytes) => readRequestBody(request, { maxBytes, timeoutMs: bodyTimeoutMs }),
    });
    return new Response(result.body, { status: result.status, headers: result.headers });
  };

  return Object.assign(handler, {
    handle,
    source,
    maxBodyBytes,
    bodyTimeoutMs,
    worker,
    async close() {
      unpublish?.();
      await worker?.stop();
    },
  });
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  isWebhookVerificationError,
  readNodeBody,
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  verifyWebhook,
  type WebhookVerificationErrorCode,
} from '@ballast/core/webhooks';

/** Options of {@link createWebhookApp}. */
export interface WebhookAppOptions {
  /** The Stripe endpoint secret (`whsec_...`), or several during a rotation. */
  stripeSecret: string | readonly string[];
  /** The Standard Webhooks secret (`whsec_<base64>`) of a second sender (Resend, Clerk, Svix, ...). */
  standardSecret: string;
  /**
   * The largest body accepted, in bytes.
   * @default 65_536
   */
  maxBodyBytes?: number;
  /**
   * The clock, in milliseconds (the demo moves it to replay an old delivery).
   * @default Date.now
   */
  now?: () => number;
  /** Business logic, run once per new event. */
  onEvent(event: VerifiedWebhook): void;
}

/** What the endpoint answers; the body of every response is this as JSON. */
export type WebhookAppAnswer =
  | { status: 'accepted'; id: string }
  | { status: 'duplicate'; id: string }
  | { status: 'rejected'; code: WebhookVerificationErrorCode };

/** 4xx for what the sender got wrong, 413 for size, 500 only for our own configuration. */
function statusOf(code: WebhookVerificationErrorCode): number {
  if (code === 'body_too_large') return 413;
  if (code === 'invalid_secret' || code === 'invalid_options') return 500;
  return code === 'no_matching_signature' || code === 'timestamp_too_old' || code === 'timestamp_in_future' ? 401 : 400;
}

function send(res: ServerResponse, status: number, answer: WebhookAppAnswer): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(answer));
}

/**
 * A minimal webhook endpoint on node:http: `POST /webhooks/stripe` and `POST /webhooks/standard`
 * read the raw body (bounded), verify it, skip events already seen, and answer at once. A real app
 * hands the event to `@ballast/core/inbox`, which stores it durably before answering; the in-memory
 * set here only shows where de-duplication happens.
 */
export function createWebhookApp(options: WebhookAppOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const now = options.now ?? (() => Date.now());
  const routes: Record<string, VerifyWebhookOptions> = {
    '/webhooks/stripe': { scheme: 'stripe', secret: options.stripeSecret, maxBodyBytes, now },
    '/webhooks/standard': { scheme: 'standard', secret: options.standardSecret, maxBodyBytes, now },
  };
  const seen = new Set<string>();

  return createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const route = req.method === 'POST' ? routes[req.url ?? ''] : undefined;
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readNodeBody(req, { maxBytes: maxBodyBytes });
      const event = await verifyWebhook({ body, headers: req.headers }, route);
      const key = `${event.scheme}:${event.id}`;
      if (seen.has(key)) {
        send(res, 200, { status: 'duplicate', id: event.id });
        return;
      }
      // Marked seen only once the logic ran: if it throws, the 500 makes the sender retry.
      options.onEvent(event);
      seen.add(key);
      send(res, 200, { status: 'accepted', id: event.id });
    } catch (error) {
      // verifyWebhook and readNodeBody reject only with the typed error; anything else is the handler's own bug
      if (isWebhookVerificationError(error)) send(res, statusOf(error.code), { status: 'rejected', code: error.code });
      else res.writeHead(500).end();
    }
  });
}

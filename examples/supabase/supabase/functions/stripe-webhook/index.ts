// POST /functions/v1/stripe-webhook (verify_jwt = false): verify, store, answer.
// Processing happens in the drain function, on a schedule.

import type { Inbox } from '@ballast/core/inbox';
import { createWebhookHandler } from '@ballast/core/inbox';
import { env, inbox } from '../_shared/ballast.ts';

let handler: ((request: Request) => Promise<Response>) | undefined;

async function webhook(request: Request): Promise<Response> {
  let store: Inbox;
  try {
    store = await inbox();
  } catch {
    // the database cannot be reached yet: the provider retries a 503
    return new Response(JSON.stringify({ error: 'store_unavailable' }), {
      status: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '5' },
    });
  }
  handler ??= createWebhookHandler({
    source: 'stripe',
    verify: { scheme: 'stripe', secret: env('STRIPE_WEBHOOK_SECRET') },
    inbox: store,
    worker: false,
  });
  return handler(request);
}

export default { fetch: webhook };

// POST /functions/v1/stripe-webhook (verify_jwt = false): verify, store, answer.
// Processing happens in the drain function, on a schedule.

import { createWebhookHandler } from '@ballast/core/inbox';
import { env, ingestEndpoint } from '../_shared/ballast.ts';

export default ingestEndpoint((inbox) =>
  createWebhookHandler({
    source: 'stripe',
    verify: { scheme: 'stripe', secret: env('STRIPE_WEBHOOK_SECRET') },
    inbox,
    worker: false,
  }),
);

/**
 * `@ballast/stripe/testing`: a fake Stripe for tests. The fake answers the
 * API (through `fetch`, msw or a local server) with Stripe's pagination,
 * errors, idempotency and rate limits; the webhook sender delivers its events
 * signed as Stripe signs them, with retries and optional chaos.
 *
 * The msw handlers live in `@ballast/stripe/testing/msw`, so that this entry's
 * types do not name msw (an optional peer).
 */

export type {
  FakeEndpointRegistration,
  FakeFault,
  FakeFaultOptions,
  FakeRequestRecord,
  FakeStripe,
  FakeStripeOptions,
  FakeStripeServer,
} from './fake-stripe';
export { createFakeStripe } from './fake-stripe';
export type { Json, JsonObject } from './params';
export type { StripeSignatureOptions } from './signature';
export { stripeSignatureHeader } from './signature';
export type {
  DeliveryAttempt,
  DeliveryReport,
  WebhookChaos,
  WebhookSender,
  WebhookSenderOptions,
} from './webhook-sender';
export { createWebhookSender } from './webhook-sender';

/**
 * `@ballast/stripe/testing`: a fake Stripe for tests. The fake answers the
 * API (through `fetch`, msw or a local server) with Stripe's pagination,
 * errors, idempotency and rate limits; the webhook sender delivers its events
 * signed as Stripe signs them, with retries and optional chaos.
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
export type { StripeMswOptions } from './msw';
export { stripeMswHandlers } from './msw';
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

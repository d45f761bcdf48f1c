/**
 * `@ballast/stripe`: Stripe presets built on `@ballast/core`: a resilient API
 * client with Stripe's retry rule and limits (or the same rules as a `fetch`
 * for stripe-node: `stripeFetch`), typed errors, form encoding,
 * auto-pagination, typed webhook events, catch-up through `/v1/events`, and a
 * Stripe-to-database sync. The fake Stripe for tests is `@ballast/stripe/testing`.
 */

export type { StripeClient, StripeClientOptions, StripeList, StripeMethod, StripeRequestOptions } from './client';
export { stripeClient } from './client';
export type { StripeApiErrorCode, StripeErrorBody, StripeErrorContext, StripeUsageErrorCode } from './errors';
export {
  isStripeError,
  isStripeUsageError,
  StripeAPIError,
  StripeAuthenticationError,
  StripeCardError,
  StripeCircuitOpenError,
  StripeConnectionError,
  StripeError,
  StripeIdempotencyError,
  StripeInvalidRequestError,
  StripeLimiterError,
  StripePermissionError,
  StripeRateLimitError,
  StripeUsageError,
  stripeErrorFromResponse,
} from './errors';
export type {
  StripeAnyEvent,
  StripeCharge,
  StripeCheckoutSession,
  StripeCustomer,
  StripeEvent,
  StripeEventEnvelope,
  StripeEventObjects,
  StripeInvoice,
  StripePaymentIntent,
  StripeSubscription,
  StripeTypedEventType,
  StripeUntypedEvent,
} from './events';
export {
  chargeSchema,
  checkoutSessionSchema,
  customerSchema,
  invoiceSchema,
  isTypedEventType,
  parseStripeEvent,
  paymentIntentSchema,
  subscriptionSchema,
} from './events';
export type { StripeFetchOptions, StripeResilienceOptions } from './fetch';
export { stripeFetch } from './fetch';
export type { StripeParams, StripeParamValue } from './form';
export { encodeStripeParams } from './form';
export type { StripeMode } from './limits';
export { stripeMode, stripeRateLimit } from './limits';
export type { ReconcileResult, ReconcileStripeEventsOptions } from './reconcile';
export { reconcileStripeEvents } from './reconcile';
export type { StripeRetryRuleOptions } from './retry';
export { stripeShouldRetry } from './retry';
export type { StripeSync, StripeSyncEntity, StripeSyncOptions, StripeSyncRecord, StripeSyncResult } from './sync';
export { STRIPE_SYNC_ENTITIES, stripeSync } from './sync';
export type {
  StripeEventHandler,
  StripeEventHandlers,
  StripeEventHandlersOptions,
  StripeHandlerContext,
  StripeWebhooksOptions,
} from './webhooks';
export { stripeEventHandlers, stripeWebhooks } from './webhooks';

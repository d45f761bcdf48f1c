/**
 * `@ballast/stripe`: Stripe presets built on `@ballast/core`.
 * Webhooks, the API client, catch-up and sync land with their issue; this
 * entry already carries Stripe's published limits.
 */

export type { StripeMode } from './limits';
export { stripeMode, stripeRateLimit } from './limits';

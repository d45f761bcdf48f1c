/**
 * `@ballast/core/webhooks`: verify (and sign) webhook deliveries from Stripe, any Standard
 * Webhooks sender, GitHub, generic HMAC senders and Basic-auth senders, on Node (node:crypto) and
 * on Deno, Bun and Workers (Web Crypto). No runtime dependencies.
 */

export type { ExpressRequestLike } from './body/express';
export { readExpressBody } from './body/express';
export type { FastifyInstanceLike } from './body/fastify';
export { fastifyRawBody, readFastifyBody } from './body/fastify';
export type { BodyLimitOptions, ReadBodyOptions } from './body/limits';
export { DEFAULT_MAX_BODY_BYTES } from './body/limits';
export type { NodeRequestLike } from './body/node';
export { readNodeBody } from './body/node';
export { readRequestBody } from './body/request';
export type { HashAlgorithm } from './crypto/types';
export type { WebhookVerificationErrorCode, WebhookVerificationErrorContext } from './errors';
export { isWebhookVerificationError, WebhookVerificationError } from './errors';
export { VERIFY_DEFAULTS } from './options';
export type { SchemeRequest, SchemeSignRequest, SchemeVerdict, WebhookScheme } from './scheme';
export { schemeError } from './scheme';
export { basicScheme } from './schemes/basic';
export { githubScheme } from './schemes/github';
export type { HmacSchemeConfig } from './schemes/hmac';
export { hmacScheme } from './schemes/hmac';
export type { StandardSchemeOptions } from './schemes/standard';
export { createStandardScheme, generateStandardKeyPair, standardScheme } from './schemes/standard';
export { stripeScheme } from './schemes/stripe';
export type { SignedWebhook, SignWebhookOptions } from './sign';
export { signWebhook } from './sign';
export type {
  SecretInput,
  VerifiedWebhook,
  VerifyWebhookOptions,
  WebhookBody,
  WebhookHeaders,
  WebhookInput,
  WebhookPayloadFormat,
  WebhookSchemeName,
} from './types';
export type { WebhookVerifier } from './verify';
export { createWebhookVerifier, verifyWebhook } from './verify';

import { DEFAULT_MAX_BODY_BYTES } from './body/limits';
import { WebhookVerificationError } from './errors';
import type { WebhookScheme } from './scheme';
import { basicScheme } from './schemes/basic';
import { githubScheme } from './schemes/github';
import { standardScheme } from './schemes/standard';
import { stripeScheme } from './schemes/stripe';
import type { SecretInput, VerifyWebhookOptions, WebhookPayloadFormat, WebhookSchemeName } from './types';

/** The defaults of {@link VerifyWebhookOptions}, in one place. */
export const VERIFY_DEFAULTS = {
  tolerance: 300,
  maxFutureSkew: 300,
  now: () => Date.now(),
  maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
  payload: 'json',
} as const satisfies Omit<Required<VerifyWebhookOptions>, 'scheme' | 'secret'>;

const BUILTIN_SCHEMES: Readonly<Record<WebhookSchemeName, WebhookScheme>> = {
  stripe: stripeScheme,
  standard: standardScheme,
  github: githubScheme,
  basic: basicScheme,
};

/** {@link VerifyWebhookOptions} with defaults applied and every value checked. @internal */
export interface ResolvedVerifyOptions {
  scheme: WebhookScheme;
  secrets: readonly string[];
  tolerance: number;
  maxFutureSkew: number;
  now: () => number;
  maxBodyBytes: number;
  payload: WebhookPayloadFormat;
}

function invalid(message: string, api: string): WebhookVerificationError {
  return new WebhookVerificationError('invalid_options', message, {}, api);
}

/** Resolves a scheme name or object. @internal */
export function resolveScheme(scheme: unknown, api: string): WebhookScheme {
  if (typeof scheme === 'string') {
    const builtin = Object.hasOwn(BUILTIN_SCHEMES, scheme) ? BUILTIN_SCHEMES[scheme as WebhookSchemeName] : undefined;
    if (builtin) return builtin;
    throw invalid(`unknown scheme "${scheme}" (built in: ${Object.keys(BUILTIN_SCHEMES).join(', ')})`, api);
  }
  if (
    typeof scheme === 'object' &&
    scheme !== null &&
    typeof (scheme as WebhookScheme).name === 'string' &&
    typeof (scheme as WebhookScheme).verify === 'function' &&
    typeof (scheme as WebhookScheme).sign === 'function'
  ) {
    return scheme as WebhookScheme;
  }
  throw invalid('scheme must be a built-in scheme name or a scheme object', api);
}

/** Reveals and checks the configured secrets (one or several). @internal */
function resolveSecrets(scheme: WebhookScheme, secret: unknown, api: string): string[] {
  const list: readonly unknown[] = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0)
    throw new WebhookVerificationError('invalid_secret', 'no secret given', { scheme: scheme.name }, api);
  return list.map((item) => {
    let value: unknown = item;
    if (typeof item === 'object' && item !== null && typeof (item as { reveal?: unknown }).reveal === 'function') {
      value = (item as Exclude<SecretInput, string>).reveal();
    }
    if (typeof value !== 'string') {
      throw new WebhookVerificationError('invalid_secret', 'a secret must be a string', { scheme: scheme.name }, api);
    }
    scheme.checkSecret?.(value);
    return value;
  });
}

function seconds(value: unknown, name: string, fallback: number, api: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalid(`${name} must be a non-negative number of seconds (or Infinity)`, api);
  }
  return value;
}

/** Applies the defaults and checks every option; never mutates `options`. @internal */
export function resolveVerifyOptions(options: VerifyWebhookOptions, api = 'verifyWebhook'): ResolvedVerifyOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options are required', api);
  const scheme = resolveScheme(options.scheme, api);
  const {
    now = VERIFY_DEFAULTS.now,
    maxBodyBytes = VERIFY_DEFAULTS.maxBodyBytes,
    payload = VERIFY_DEFAULTS.payload,
  } = options;
  if (typeof now !== 'function') throw invalid('now must be a function returning milliseconds', api);
  if (typeof maxBodyBytes !== 'number' || !Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw invalid('maxBodyBytes must be a non-negative integer', api);
  }
  if (payload !== 'json' && payload !== 'raw') throw invalid("payload must be 'json' or 'raw'", api);
  return {
    scheme,
    secrets: resolveSecrets(scheme, options.secret, api),
    tolerance: seconds(options.tolerance, 'tolerance', VERIFY_DEFAULTS.tolerance, api),
    maxFutureSkew: seconds(options.maxFutureSkew, 'maxFutureSkew', VERIFY_DEFAULTS.maxFutureSkew, api),
    now,
    maxBodyBytes,
    payload,
  };
}

interface CachedResolution {
  readonly options: Readonly<VerifyWebhookOptions>;
  readonly secrets: readonly string[] | undefined;
  readonly config: ResolvedVerifyOptions;
}

const resolutions = new WeakMap<object, CachedResolution>();

/** The secret strings by value, or `undefined` when a secret is an object (it may reveal a new value each time). */
function secretStrings(secret: unknown): string[] | undefined {
  const list: readonly unknown[] = Array.isArray(secret) ? secret : [secret];
  for (const item of list) if (typeof item !== 'string') return undefined;
  return list.slice() as string[];
}

function unchanged(cached: CachedResolution, options: VerifyWebhookOptions): boolean {
  const before = cached.options;
  if (
    before.scheme !== options.scheme ||
    before.secret !== options.secret ||
    before.tolerance !== options.tolerance ||
    before.maxFutureSkew !== options.maxFutureSkew ||
    before.now !== options.now ||
    before.maxBodyBytes !== options.maxBodyBytes ||
    before.payload !== options.payload
  ) {
    return false;
  }
  const secrets = cached.secrets;
  if (secrets === undefined) return false;
  if (!Array.isArray(options.secret)) return true;
  const current = options.secret as readonly unknown[];
  if (current.length !== secrets.length) return false;
  for (let i = 0; i < current.length; i++) if (current[i] !== secrets[i]) return false;
  return true;
}

/**
 * {@link resolveVerifyOptions}, memoized per options object for callers that pass the same object
 * on every call. The cached result is used only while every field (and every secret string of a
 * secret array) is still identical, so changing the object between calls is always seen. @internal
 */
export function resolveVerifyOptionsCached(options: VerifyWebhookOptions, api: string): ResolvedVerifyOptions {
  if (typeof options !== 'object' || options === null) return resolveVerifyOptions(options, api);
  const cached = resolutions.get(options);
  if (cached !== undefined && unchanged(cached, options)) return cached.config;
  const config = resolveVerifyOptions(options, api);
  resolutions.set(options, { options: { ...options }, secrets: secretStrings(options.secret), config });
  return config;
}

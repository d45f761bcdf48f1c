import type { FormValue } from '../form';

/** A JSON object as the fake stores and returns it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A Stripe API object in the fake's store. */
export type JsonObject = { [key: string]: Json };
/** Decoded request parameters (form body or query string). */
export type Params = { [key: string]: FormValue };

/** An error the fake answers with, in Stripe's shape. */
export class FakeApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: JsonObject,
    /** False for validation failures: Stripe saves no idempotent result for them. */
    readonly saved = false,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof error.message === 'string' ? error.message : 'fake Stripe error');
  }
}

/** A 400 `invalid_request_error` about one parameter. */
export function invalid(message: string, param?: string, code?: string): FakeApiError {
  const error: JsonObject = { type: 'invalid_request_error', message };
  if (code) error.code = code;
  if (param) error.param = param;
  return new FakeApiError(400, error);
}

/** A 404 for an object that does not exist. */
export function missing(kind: string, id: string, param = 'id'): FakeApiError {
  return new FakeApiError(
    404,
    {
      type: 'invalid_request_error',
      code: 'resource_missing',
      param,
      message: `No such ${kind}: '${id}'`,
      doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
    },
    true,
  );
}

/** Rejects parameters that the endpoint does not know. */
export function allowOnly(params: Params, allowed: readonly string[]): void {
  for (const key of Object.keys(params)) {
    if (key !== 'expand' && !allowed.includes(key))
      throw invalid(`Received unknown parameter: ${key}`, key, 'parameter_unknown');
  }
}

/** A string parameter (undefined when absent). */
export function str(params: Params, name: string, required = false): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') {
    if (required) throw invalid(`Missing required param: ${name}.`, name, 'parameter_missing');
    return undefined;
  }
  if (typeof value !== 'string')
    throw invalid(`Invalid string: ${name} must be a string`, name, 'parameter_invalid_string');
  return value;
}

/** An integer parameter within bounds (undefined when absent). */
export function int(params: Params, name: string, options: { required?: boolean; min?: number; max?: number } = {}) {
  const text = str(params, name, options.required ?? false);
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) throw invalid(`Invalid integer: ${text}`, name, 'parameter_invalid_integer');
  const value = Number(text);
  if (options.min !== undefined && value < options.min)
    throw invalid(`This value must be greater than or equal to ${options.min}.`, name, 'parameter_invalid_integer');
  if (options.max !== undefined && value > options.max)
    throw invalid(`This value must be less than or equal to ${options.max}.`, name, 'parameter_invalid_integer');
  return value;
}

/** A boolean parameter (`true`/`false`), undefined when absent. */
export function bool(params: Params, name: string): boolean | undefined {
  const text = str(params, name);
  if (text === undefined) return undefined;
  if (text !== 'true' && text !== 'false') throw invalid(`Invalid boolean: ${text}`, name, 'parameter_invalid_boolean');
  return text === 'true';
}

/** A nested object parameter, undefined when absent. */
export function obj(params: Params, name: string, required = false): Params | undefined {
  const value = params[name];
  if (value === undefined || value === '') {
    if (required) throw invalid(`Missing required param: ${name}.`, name, 'parameter_missing');
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`Invalid object: ${name}`, name);
  return value;
}

/** An array parameter (of nested objects or strings), empty when absent. */
export function list(params: Params, name: string): FormValue[] {
  const value = params[name];
  if (value === undefined || value === '') return [];
  if (!Array.isArray(value)) throw invalid(`Invalid array: ${name}`, name, 'parameter_invalid_array');
  return value;
}

/**
 * Applies a `metadata` update the way Stripe does: keys merge, a key set to
 * `''` is removed, and `metadata=''` clears everything.
 */
export function mergeMetadata(current: Json | undefined, params: Params): JsonObject {
  const base: JsonObject =
    typeof current === 'object' && current !== null && !Array.isArray(current) ? { ...current } : {};
  const update = params.metadata;
  if (update === undefined) return base;
  if (update === '') return {};
  if (typeof update !== 'object' || Array.isArray(update)) throw invalid('Invalid hash', 'metadata');
  for (const [key, value] of Object.entries(update)) {
    if (typeof value !== 'string') throw invalid('Invalid hash', `metadata[${key}]`);
    if (value === '') delete base[key];
    else base[key] = value;
  }
  if (Object.keys(base).length > 50) throw invalid('Metadata can have at most 50 keys.', 'metadata');
  return base;
}

import { WebhookVerificationError } from './errors';
import type { SchemeRequest } from './scheme';
import type { WebhookHeaders } from './types';

type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;

function isHeaders(headers: WebhookHeaders): headers is Headers {
  return typeof (headers as Headers).get === 'function';
}

function single(name: string, value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  if (!Array.isArray(value)) {
    throw new WebhookVerificationError('invalid_input', `the ${name} header is neither a string nor a string array`, {
      header: name,
    });
  }
  if (value.length === 0) return undefined;
  if (value.length > 1) {
    throw new WebhookVerificationError('duplicate_header', `the ${name} header was sent ${value.length} times`, {
      header: name,
    });
  }
  return single(name, value[0] as string);
}

/** Marks a name seen under two letter cases. */
const TWICE: unique symbol = Symbol('sent twice');

type HeaderIndex = Map<string, string | readonly string[] | undefined | typeof TWICE>;

/** A request whose headers are a plain record (see {@link schemeRequest}). */
class RecordRequest implements SchemeRequest {
  readonly body: string | Uint8Array;
  readonly #record: HeaderRecord;
  /** `null` while every key is lower case (read the record directly); built on the first lookup */
  #index: HeaderIndex | null | undefined;

  constructor(body: string | Uint8Array, record: HeaderRecord) {
    this.body = body;
    this.#record = record;
  }

  header(name: string): string | undefined {
    if (this.#index === undefined) this.#index = indexOf(this.#record);
    const value = this.#index === null ? this.#record[name] : this.#index.get(name);
    if (value === TWICE) {
      throw new WebhookVerificationError('duplicate_header', `the ${name} header appears more than once`, {
        header: name,
      });
    }
    return single(name, value);
  }
}

/** `null` when every key is already lower case; otherwise the values by lower-case name. */
function indexOf(record: HeaderRecord): HeaderIndex | null {
  let direct = true;
  for (const key in record) {
    if (key !== key.toLowerCase()) {
      direct = false;
      break;
    }
  }
  if (direct) return null;
  const index: HeaderIndex = new Map();
  for (const key in record) {
    const value = record[key];
    if (value === undefined) continue;
    const lower = key.toLowerCase();
    index.set(lower, index.has(lower) ? TWICE : value);
  }
  return index;
}

/** A request whose headers are a `Headers` object. */
class HeadersRequest implements SchemeRequest {
  readonly body: string | Uint8Array;
  readonly #headers: Headers;

  constructor(body: string | Uint8Array, headers: Headers) {
    this.body = body;
    this.#headers = headers;
  }

  header(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }
}

/**
 * The request as a scheme reads it: the body and a lookup by lower-case header name. A `Headers`
 * object answers directly (it has already joined repeated headers with `, `, which the schemes'
 * parsers reject). A plain record whose keys are all lower case (Node's own header objects) is read
 * directly; one with mixed-case keys is indexed once, case-insensitively. A name present under two
 * letter cases, or as an array of several values, is a `duplicate_header`. An object rather than a
 * closure: one allocation per delivery instead of a closure, its context and the request.
 */
export function schemeRequest(body: string | Uint8Array, headers: WebhookHeaders): SchemeRequest {
  return isHeaders(headers) ? new HeadersRequest(body, headers) : new RecordRequest(body, headers as HeaderRecord);
}

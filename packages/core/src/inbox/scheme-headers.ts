/**
 * Records which request headers a signature scheme reads, so the inbox can keep
 * them beside the raw body: with both, a stored event can be verified again or
 * forwarded. Credentials are never kept.
 */

import type { WebhookHeaders } from '../webhooks/types';

/** Headers that carry credentials rather than signatures: never stored. */
const NEVER_KEPT = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** A view of the request headers for the verifier, and what it read through that view. */
export interface RecordedHeaders {
  readonly view: WebhookHeaders;
  /** The headers read so far (lower-case names), or `undefined` when the view cannot tell. */
  read(): Record<string, string> | undefined;
}

function isHeaders(headers: WebhookHeaders): headers is Headers {
  return typeof (headers as Headers).get === 'function';
}

const allLowerCase = (record: object) => {
  for (const key in record) if (key !== key.toLowerCase()) return false;
  return true;
};

/**
 * Wraps `headers` so that every lookup by name is noted. A `Headers` object is
 * read through `get`; a record with lower-case keys (Node's) through property
 * reads. A record with mixed-case keys is passed through unrecorded: the
 * verifier indexes every key of it, so its reads say nothing about the scheme.
 */
export function recordHeaders(headers: WebhookHeaders): RecordedHeaders {
  const kept: Record<string, string> = {};
  const note = (name: string, value: unknown) => {
    if (typeof value === 'string' && !NEVER_KEPT.has(name)) kept[name] = value;
  };
  if (isHeaders(headers)) {
    const get = (name: string) => {
      const value = headers.get(name);
      note(name.toLowerCase(), value);
      return value;
    };
    const view = new Proxy(headers, {
      get(target, prop) {
        if (prop === 'get') return get;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { view, read: () => kept };
  }
  if (typeof headers !== 'object' || headers === null || !allLowerCase(headers)) {
    return { view: headers, read: () => undefined };
  }
  const view = new Proxy(headers, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop === 'string' && Object.hasOwn(target, prop)) note(prop, value);
      return value;
    },
  });
  return { view, read: () => kept };
}

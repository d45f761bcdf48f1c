import { WebhookVerificationError } from './errors';
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

/**
 * Builds a lookup by lower-case header name. A `Headers` object answers directly (it has already
 * joined repeated headers with `, `, which the schemes' parsers reject). A plain record whose keys
 * are all lower case (Node's own header objects) is read directly; one with mixed-case keys is
 * indexed once, case-insensitively. A name present under two letter cases, or as an array of
 * several values, is a `duplicate_header`.
 */
export function headerLookup(headers: WebhookHeaders): (name: string) => string | undefined {
  if (isHeaders(headers)) return (name) => headers.get(name) ?? undefined;
  const record = headers as HeaderRecord;
  let index: Map<string, string | readonly string[] | undefined | typeof TWICE> | undefined;
  let direct: boolean | undefined;
  return (name) => {
    if (direct === undefined) {
      direct = true;
      for (const key in record) {
        if (key !== key.toLowerCase()) {
          direct = false;
          break;
        }
      }
      if (!direct) {
        index = new Map();
        for (const key in record) {
          const value = record[key];
          if (value === undefined) continue;
          const lower = key.toLowerCase();
          index.set(lower, index.has(lower) ? TWICE : value);
        }
      }
    }
    const value = direct ? record[name] : index?.get(name);
    if (value === TWICE) {
      throw new WebhookVerificationError('duplicate_header', `the ${name} header appears more than once`, {
        header: name,
      });
    }
    return single(name, value);
  };
}

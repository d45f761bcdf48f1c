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

/**
 * Builds a lookup by lower-case header name. A `Headers` object answers directly (it has already
 * joined repeated headers with `, `, which the schemes' parsers reject). A plain record is looked
 * up by the lower-case key first (Node's own header objects), then case-insensitively; a name that
 * appears under two letter cases or as an array of several values is a `duplicate_header`.
 */
export function headerLookup(headers: WebhookHeaders): (name: string) => string | undefined {
  if (isHeaders(headers)) return (name) => headers.get(name) ?? undefined;
  const record = headers as HeaderRecord;
  return (name) => {
    const exact = record[name];
    let found: string | readonly string[] | undefined = exact;
    let matches = exact === undefined ? 0 : 1;
    // Scan every key so that one name under two letter cases is caught; keys of another length are skipped at once.
    for (const key in record) {
      if (key === name || key.length !== name.length || key.toLowerCase() !== name) continue;
      if (record[key] === undefined) continue;
      matches++;
      found = record[key];
    }
    if (matches > 1) {
      throw new WebhookVerificationError('duplicate_header', `the ${name} header appears more than once`, {
        header: name,
      });
    }
    return single(name, found);
  };
}

import { StripeUsageError } from './errors';

/**
 * A parameter value Stripe's form encoding can carry. `null` and `''` both
 * encode as an empty value, which is how Stripe unsets a field; `undefined`
 * is left out; a `Date` becomes unix seconds.
 */
export type StripeParamValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | Date
  | readonly StripeParamValue[]
  | { readonly [key: string]: StripeParamValue };

/** Request parameters for a Stripe call, nested as in Stripe's API reference. */
export type StripeParams = { readonly [key: string]: StripeParamValue };

const KEY_PART = /^[^[\]]+$/;

function fail(message: string): never {
  throw new StripeUsageError('encodeStripeParams', 'invalid_params', message);
}

/** Percent-encodes text; text that is not valid Unicode (a lone surrogate) cannot be sent. */
function encodeText(text: string, what: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return fail(`${what} holds text that is not valid Unicode (a lone surrogate)`);
  }
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Encodes nested parameters the way Stripe's API reads them
 * (`application/x-www-form-urlencoded` with bracketed keys):
 * `metadata[order]=42`, `items[0][price]=price_1`, `expand[0]=customer`.
 *
 * Empty arrays and objects are left out (as Stripe's SDKs do); pass `''` or
 * `null` to unset a field. Brackets stay literal, everything else is
 * percent-encoded.
 *
 * @throws StripeUsageError (`invalid_params`) for values the encoding cannot
 *   carry: functions, symbols, non-finite numbers, class instances, cycles,
 *   invalid dates, keys containing brackets and text with lone surrogates.
 * @example
 * ```ts
 * encodeStripeParams({ metadata: { order: '42' }, items: [{ price: 'price_1' }] });
 * // 'metadata[order]=42&items[0][price]=price_1'
 * ```
 */
export function encodeStripeParams(params: StripeParams): string {
  const pairs: string[] = [];
  const seen = new Set<object>();

  const visit = (key: string, value: unknown): void => {
    if (value === undefined) return;
    if (value === null || value === '') {
      pairs.push(`${key}=`);
      return;
    }
    switch (typeof value) {
      case 'string':
        pairs.push(`${key}=${encodeText(value, key)}`);
        return;
      case 'number':
        if (!Number.isFinite(value)) fail(`${key} is ${value}, which Stripe cannot receive`);
        pairs.push(`${key}=${String(value)}`);
        return;
      case 'bigint':
      case 'boolean':
        pairs.push(`${key}=${String(value)}`);
        return;
      case 'object':
        break;
      default:
        fail(`${key} is a ${typeof value}, which cannot be form-encoded`);
    }
    const object = value as object;
    if (object instanceof Date) {
      const time = object.getTime();
      if (Number.isNaN(time)) fail(`${key} is an invalid Date`);
      pairs.push(`${key}=${Math.floor(time / 1000)}`);
      return;
    }
    if (seen.has(object)) fail(`${key} refers back to itself (a cycle)`);
    seen.add(object);
    if (Array.isArray(object)) {
      object.forEach((item, index) => {
        visit(`${key}[${index}]`, item);
      });
    } else if (isPlainObject(object)) {
      for (const [child, item] of Object.entries(object)) visit(`${key}[${part(child)}]`, item);
    } else {
      fail(`${key} is a ${object.constructor?.name ?? 'non-plain object'}; pass plain objects, arrays and primitives`);
    }
    seen.delete(object);
  };

  const part = (name: string): string => {
    if (!KEY_PART.test(name)) fail(`parameter name ${JSON.stringify(name)} is empty or contains brackets`);
    return encodeText(name, 'a parameter name');
  };

  if (typeof params !== 'object' || params === null || Array.isArray(params) || !isPlainObject(params))
    fail('params must be a plain object');
  for (const [name, value] of Object.entries(params)) visit(part(name), value);
  return pairs.join('&');
}

/** A decoded form value: strings, nested objects and arrays. */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };

const ARRAY = Symbol('array');
type Node = { [key: string]: FormValue | Node; [ARRAY]?: true };

function decodePart(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}

function finish(node: Node): { [key: string]: FormValue } | FormValue[] {
  const out: { [key: string]: FormValue } = {};
  for (const [key, value] of Object.entries(node)) out[key] = typeof value === 'string' ? value : finish(value as Node);
  if (!node[ARRAY]) return out;
  return Object.keys(out)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => out[k] as FormValue);
}

/**
 * Decodes a Stripe-style form body (or query string) into nested objects and
 * arrays of strings: the inverse of {@link encodeStripeParams}, used by the
 * fake server. Returns undefined when keys conflict (`a=1&a[b]=2`).
 * @internal
 */
export function decodeStripeForm(text: string): { [key: string]: FormValue } | undefined {
  const root: Node = {};
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decodePart(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodePart(pair.slice(eq + 1));
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    if (!match?.[1]) return undefined;
    const path = [match[1], ...[...(match[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] ?? '')];
    let node = root;
    for (let i = 0; i < path.length; i++) {
      let segment = path[i] as string;
      if (segment === '') segment = String(Object.keys(node).length);
      if (i === path.length - 1) {
        if (typeof node[segment] === 'object') return undefined;
        node[segment] = value;
        break;
      }
      let child = node[segment];
      if (typeof child === 'string') return undefined;
      if (child === undefined) {
        const next = path[i + 1] as string;
        child = /^\d*$/.test(next) ? ({ [ARRAY]: true } as Node) : {};
        node[segment] = child;
      }
      node = child as Node;
    }
  }
  return finish(root) as { [key: string]: FormValue };
}

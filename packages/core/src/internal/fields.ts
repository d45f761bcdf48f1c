/**
 * Option checking for the entries that load on every request or run path
 * (`@ballast/core/sync`): a handful of field rules instead of a schema
 * library, whose module graph would stay in the heap of every process that
 * syncs (decision 1300). Each rule returns what is wrong with a value, or
 * `undefined`; `readFields` gathers every problem of an object into one
 * message, `path: problem; path: problem`.
 */

/** What is wrong with a value, or `undefined` when it passes. */
export type Rule = (value: unknown) => string | undefined;

/** A field of an options object: its rule and, when absent, its default. */
export interface Field<T> {
  readonly rule: Rule;
  /** The value of an absent (`undefined`) field; without one the field is required, unless `optional`. */
  readonly fallback?: T;
  readonly optional?: boolean;
}

/** How a value reads in a message: its type, or the value itself when short. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
    case 'number':
    case 'boolean':
      return String(value);
    case 'function':
      return 'a function';
    case 'undefined':
      return 'undefined';
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** A string of `min` to `max` characters. */
export const text =
  (min = 0, max = Number.POSITIVE_INFINITY): Rule =>
  (value) => {
    if (typeof value !== 'string') return `must be a string, got ${describe(value)}`;
    if (value.length < min) return min === 1 ? 'must not be empty' : `must have at least ${min} characters`;
    if (value.length > max) return `must have at most ${max} characters, got ${value.length}`;
    return undefined;
  };

/** Numbers of one kind (`a number`: finite; `an integer`) from `min` to `max`. */
const numeric =
  (kind: string, isKind: (value: number) => boolean) =>
  (min: number, max = Number.POSITIVE_INFINITY): Rule => {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `from ${min} to ${max}`;
    return (value) =>
      typeof value === 'number' && isKind(value) && value >= min && value <= max
        ? undefined
        : `must be ${kind} ${range}, got ${describe(value)}`;
  };

/** A finite number from `min` to `max`. */
export const number = numeric('a number', Number.isFinite);

/** An integer from `min` to `max`. */
export const integer = numeric('an integer', Number.isInteger);

/** `true` or `false`. */
export const boolean: Rule = (value) =>
  typeof value === 'boolean' ? undefined : `must be true or false, got ${describe(value)}`;

/** A function. */
export const fn: Rule = (value) =>
  typeof value === 'function' ? undefined : `must be a function, got ${describe(value)}`;

/** One of `values`. */
export const oneOf =
  (values: readonly unknown[]): Rule =>
  (value) =>
    values.includes(value)
      ? undefined
      : `must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(value)}`;

/** A value passing any of `rules`; the message names what each would take. */
export const either =
  (...rules: readonly Rule[]): Rule =>
  (value) => {
    const problems: string[] = [];
    for (const rule of rules) {
      const problem = rule(value);
      if (problem === undefined) return undefined;
      problems.push(problem.replace(/, got .*$/s, ''));
    }
    return `${problems.join(', or ')}, got ${describe(value)}`;
  };

/** An instance of `type`. */
export const instance =
  (type: abstract new (...args: never[]) => unknown, name: string): Rule =>
  (value) =>
    value instanceof type ? undefined : `must be ${name}, got ${describe(value)}`;

/** An array whose elements pass `rule` (problems are reported at `path.index`). */
export interface ArrayRule extends Rule {
  readonly element: Rule;
}

/** An array of values passing `element`. */
export function arrayOf(element: Rule): ArrayRule {
  const rule = (value: unknown) => (Array.isArray(value) ? undefined : `must be an array, got ${describe(value)}`);
  return Object.assign(rule, { element });
}

/** The options object `Fields` describes, with defaults filled in. */
export type FieldValues<F extends Record<string, Field<unknown>>> = {
  [K in keyof F]: F[K] extends Field<infer T> ? T : never;
};

/**
 * Checks the fields of `input` (an object) and returns a new object of them
 * with the defaults filled in; keys `fields` does not name are left out.
 * Returns the problems instead, as `path: problem` strings, when any field
 * fails (every failing field is named, not only the first).
 */
export function readFields<F extends Record<string, Field<unknown>>>(
  input: object,
  fields: F,
): { ok: true; value: FieldValues<F> } | { ok: false; problems: string[] } {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, field] of Object.entries(fields)) {
    const value = (input as Record<string, unknown>)[key];
    if (value === undefined) {
      if ('fallback' in field) out[key] = field.fallback;
      else if (!field.optional) problems.push(`${key}: is required`);
      continue;
    }
    const problem = field.rule(value);
    if (problem !== undefined) {
      problems.push(`${key}: ${problem}`);
      continue;
    }
    const element = (field.rule as Partial<ArrayRule>).element;
    if (element && Array.isArray(value)) {
      value.forEach((item, i) => {
        const wrong = element(item);
        if (wrong !== undefined) problems.push(`${key}.${i}: ${wrong}`);
      });
      out[key] = [...value];
      continue;
    }
    out[key] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out as FieldValues<F> };
}

/** A field that must be given. */
export const required = <T>(rule: Rule): Field<T> => ({ rule });

/** A field that takes `fallback` when absent. */
export const withDefault = <T>(rule: Rule, fallback: T): Field<T> => ({ rule, fallback });

/** A field that may be absent (`undefined` then). */
export const optional = <T>(rule: Rule): Field<T | undefined> => ({ rule, optional: true });

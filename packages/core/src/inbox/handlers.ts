/**
 * What inbox handlers see: the event shape, the context, the handler map
 * (typed by an event map or by a schema per type), and routing by type with
 * wildcards. The worker (worker.ts) runs what this module picks.
 */
import type { SqlExecutor } from '../stores/sql';
import { InboxError, isInboxError } from './errors';
import type { InboxEvent } from './types';

/** What a handler receives besides the event. */
export interface InboxHandlerContext {
  /** This attempt's number, from 1 (replays start again at 1). */
  attempt: number;
  /** The idempotency key the run is recorded under (`inbox:<source>:<id>`). */
  key: string;
  /** True when an earlier run's lease expired mid-way, so the handler may have started before. */
  takeover: boolean;
  /**
   * Aborted when the attempt times out (`handlerTimeoutMs`): pass it to slow
   * calls so the abandoned attempt stops working.
   */
  signal: AbortSignal;
  /**
   * In transactional mode (`idempotency: { transactional: true }`), the
   * transaction that also records the run: write through it to commit
   * together. Absent otherwise.
   */
  tx?: SqlExecutor;
}

/** The context in transactional mode: `tx` is always there. */
export interface TransactionalInboxHandlerContext extends InboxHandlerContext {
  tx: SqlExecutor;
}

/**
 * The event a handler receives: the stored event with its payload typed for
 * its type. `id`, `type`, `payload` and `source` are named as `verifyWebhook`
 * names them; `attempts`, `receivedAt` and `lastError` tell its history.
 */
export type InboxHandlerEvent<P = unknown, T extends string = string> = InboxEvent<P> & { type: T };

/** Handles one event. Throwing (or rejecting) fails the attempt: it is retried with backoff, unless it is a {@link permanentFailure}. */
export type InboxEventHandler<
  P = unknown,
  C extends InboxHandlerContext = InboxHandlerContext,
  T extends string = string,
> = {
  // a method signature keeps the parameter bivariant, so typed handlers fit an untyped map
  handle(event: InboxHandlerEvent<P, T>, context: C): unknown;
}['handle'];

/** Payload types by event type, e.g. `{ 'invoice.paid': Invoice; 'invoice.voided': Invoice }`. */
export type InboxEventMap = Record<string, unknown>;

/**
 * Handlers by event type. A key is an exact type (`'invoice.paid'`), a prefix
 * wildcard (`'invoice.*'`: every type that starts with `invoice.`), or `'*'`
 * (every type). The most specific key wins: an exact type, then the longest
 * prefix, then `'*'`. With an event map `M`, a handler for a type of `M` gets
 * its payload typed; a wildcard handler may see types outside the map, so its
 * payload stays `unknown`.
 */
export type InboxHandlers<
  M extends InboxEventMap = InboxEventMap,
  C extends InboxHandlerContext = InboxHandlerContext,
> = string extends keyof M
  ? { readonly [type: string]: InboxEventHandler<unknown, C> | undefined }
  : {
      readonly [T in keyof M & string]?: (event: InboxHandlerEvent<M[T], T>, context: C) => unknown;
    } & {
      readonly [P in `${string}.*` | '*']?: (event: InboxHandlerEvent<unknown>, context: C) => unknown;
    };

/**
 * A schema that validates a payload: any object with zod's `safeParse`
 * (zod 3 and 4 fit). A payload that fails it is a permanent failure: the
 * event goes to `dead` at once with the schema's message.
 */
export interface InboxPayloadSchema<T = unknown> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: unknown };
}

/** Payload schemas by event type. */
export type InboxSchemas = Readonly<Record<string, InboxPayloadSchema>>;

/** The event map a set of schemas describes. */
export type SchemaEventMap<S extends InboxSchemas> = {
  [K in keyof S & string]: S[K] extends InboxPayloadSchema<infer T> ? T : unknown;
};

/**
 * Marks a failure as permanent: the worker dead-letters the event at once,
 * with `reason` as its error, instead of retrying it to `maxAttempts`. Throw
 * it for a failure no retry can fix (a payload that does not match its
 * schema, a reference to something that will never exist).
 *
 * @example
 * ```ts
 * on: {
 *   'order.created': async (event) => {
 *     if (!isOrder(event.payload)) throw permanentFailure('not an order');
 *   },
 * }
 * ```
 */
export function permanentFailure(reason: string, options: { cause?: unknown } = {}): InboxError {
  return new InboxError('handler', 'permanent_failure', reason, options);
}

/** True for an error thrown through {@link permanentFailure} (also when it is the `cause` of a thrown error). */
export function isPermanentFailure(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (isInboxError(e) && e.code === 'permanent_failure') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A handler picked for an event type, and the pattern that picked it. */
export interface Route {
  pattern: string;
  handler: InboxEventHandler;
}

/**
 * Builds the lookup of a handler map: own keys only, so a type named like an
 * `Object.prototype` member (`constructor`, `valueOf`) matches nothing unless
 * a handler is declared for it.
 */
export function router(
  on: object,
  schemas: InboxSchemas | undefined,
  api: string,
): (type: string) => Route | undefined {
  const exact = new Map<string, InboxEventHandler>();
  const prefixes: [string, InboxEventHandler][] = [];
  let any: InboxEventHandler | undefined;
  for (const [pattern, handler] of Object.entries(on)) {
    if (handler === undefined) continue;
    if (typeof handler !== 'function') {
      throw new InboxError(api, 'invalid_options', `on[${JSON.stringify(pattern)}] must be a handler function`);
    }
    const h = handler as InboxEventHandler;
    if (pattern === '*') any = h;
    else if (pattern.endsWith('.*')) prefixes.push([pattern.slice(0, -1), h]);
    else if (pattern.includes('*')) {
      throw new InboxError(
        api,
        'invalid_options',
        `on[${JSON.stringify(pattern)}]: a wildcard is '*' or a '<prefix>.*' at the end of the type`,
      );
    } else exact.set(pattern, h);
  }
  // longest prefix first: the most specific wildcard wins
  prefixes.sort(([a], [b]) => b.length - a.length);
  const checks = schemaChecks(schemas, api);
  const validated = (pattern: string, type: string, handler: InboxEventHandler): Route => {
    const check = checks.get(type);
    return { pattern, handler: check ? check(handler) : handler };
  };
  return (type) => {
    const h = exact.get(type);
    if (h) return validated(type, type, h);
    for (const [prefix, handler] of prefixes) {
      if (type.startsWith(prefix)) return validated(`${prefix}*`, type, handler);
    }
    return any ? validated('*', type, any) : undefined;
  };
}

/** Wraps handlers so the payload is parsed by its type's schema first (the handler gets the parsed data). */
function schemaChecks(
  schemas: InboxSchemas | undefined,
  api: string,
): Map<string, (handler: InboxEventHandler) => InboxEventHandler> {
  const checks = new Map<string, (handler: InboxEventHandler) => InboxEventHandler>();
  if (schemas === undefined) return checks;
  if (typeof schemas !== 'object' || schemas === null) {
    throw new InboxError(api, 'invalid_options', 'schemas must map event types to schemas with safeParse()');
  }
  for (const [type, schema] of Object.entries(schemas)) {
    if (typeof (schema as Partial<InboxPayloadSchema> | undefined)?.safeParse !== 'function') {
      throw new InboxError(api, 'invalid_options', `schemas[${JSON.stringify(type)}] has no safeParse()`);
    }
    checks.set(type, (handler) => (event, context) => {
      const parsed = schema.safeParse(event.payload);
      if (!parsed.success) {
        const message = (parsed.error as { message?: unknown } | null)?.message;
        throw permanentFailure(
          `the payload of ${event.source}/${event.id} (${type}) does not match its schema${
            typeof message === 'string' ? `: ${message}` : ''
          }`,
          { cause: parsed.error },
        );
      }
      return handler({ ...event, payload: parsed.data }, context);
    });
  }
  return checks;
}

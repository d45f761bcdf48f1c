import { z } from 'zod';
import { PipedriveWebhookError } from './webhook-errors';

/*
 * Pipedrive webhook payloads, v2 (the default since 2025-03-17) and v1, read
 * into one event shape. The objects of persons, organizations and deals are
 * checked on the fields Ballast types; every other field is kept (loose
 * objects), so a field Pipedrive adds or renames never fails a delivery: the
 * raw row keeps it, and a mapper decides (providers.md §2.5).
 */

/** What happened to the object. v1's `added`/`updated`/`merged`/`deleted` are read as create/change/change/delete. */
export type PipedriveWebhookAction = 'create' | 'change' | 'delete';

/** The entities whose `data` Ballast types. */
export type PipedriveTypedEntity = 'person' | 'organization' | 'deal';

const nullableString = z.string().nullable().optional();
const nullableId = z.number().int().nullable().optional();
const contactPoint = z.looseObject({
  value: z.string(),
  primary: z.boolean().optional(),
  label: z.string().nullable().optional(),
});
const customFields = z.record(z.string(), z.unknown()).nullable().optional();

/** A person as a v2 webhook (or the v2 API) carries it: the checked fields, every other field kept. */
export const webhookPersonSchema = z.looseObject({
  id: z.number().int(),
  name: nullableString,
  first_name: nullableString,
  last_name: nullableString,
  owner_id: nullableId,
  org_id: nullableId,
  emails: z.array(contactPoint).nullable().optional(),
  phones: z.array(contactPoint).nullable().optional(),
  add_time: nullableString,
  update_time: nullableString,
  is_deleted: z.boolean().optional(),
  custom_fields: customFields,
});

/** An organization as a v2 webhook carries it. */
export const webhookOrganizationSchema = z.looseObject({
  id: z.number().int(),
  name: nullableString,
  owner_id: nullableId,
  add_time: nullableString,
  update_time: nullableString,
  is_deleted: z.boolean().optional(),
  custom_fields: customFields,
});

/** A deal as a v2 webhook carries it. */
export const webhookDealSchema = z.looseObject({
  id: z.number().int(),
  title: nullableString,
  value: z.number().nullable().optional(),
  currency: nullableString,
  status: nullableString,
  stage_id: nullableId,
  pipeline_id: nullableId,
  person_id: nullableId,
  org_id: nullableId,
  owner_id: nullableId,
  add_time: nullableString,
  update_time: nullableString,
  is_deleted: z.boolean().optional(),
  custom_fields: customFields,
});

/** A Pipedrive person (v2 fields Ballast checks; all others are kept). */
export type PipedriveWebhookPerson = z.infer<typeof webhookPersonSchema>;
/** A Pipedrive organization (v2 fields Ballast checks; all others are kept). */
export type PipedriveWebhookOrganization = z.infer<typeof webhookOrganizationSchema>;
/** A Pipedrive deal (v2 fields Ballast checks; all others are kept). */
export type PipedriveWebhookDeal = z.infer<typeof webhookDealSchema>;

/** The object type of each typed entity. */
export interface PipedriveWebhookObjects {
  person: PipedriveWebhookPerson;
  organization: PipedriveWebhookOrganization;
  deal: PipedriveWebhookDeal;
}

/** Any object: what untyped entities (and v1 payloads) carry. */
export type PipedriveWebhookObject = { id?: unknown; [field: string]: unknown };

const OBJECT_SCHEMAS: Readonly<Record<PipedriveTypedEntity, z.ZodType>> = {
  person: webhookPersonSchema,
  organization: webhookOrganizationSchema,
  deal: webhookDealSchema,
};

/** Fields every parsed event carries, whatever its version. */
interface EventFields<E extends string, A extends PipedriveWebhookAction> {
  /**
   * The event id deliveries are deduplicated on: v2 `meta.id` (the same on
   * Pipedrive's retries); for v1, `v1:<object>:<id>:<action>:<timestamp>`
   * (v1's `meta.id` is the object's id, and its `retry` counter changes the body).
   */
  id: string;
  action: A;
  /** `person`, `deal`, ... (v2 `meta.entity`, v1 `meta.object`). */
  entity: E;
  /** The changed object's id, as a string (Pipedrive's leads have uuid ids). */
  entityId: string;
  /** When the change happened, in ms since the epoch: the out-of-order guard's version. */
  timestamp: number;
  /** The whole `meta` object as sent. */
  meta: { [field: string]: unknown };
}

/** A v2 event of a typed entity: `data` and `previous` checked and typed. */
export type PipedriveV2Event<E extends string, A extends PipedriveWebhookAction> = EventFields<E, A> & {
  version: 2;
  /** The object after the change; `null` on delete. */
  data: A extends 'delete'
    ? null
    : E extends PipedriveTypedEntity
      ? PipedriveWebhookObjects[E]
      : PipedriveWebhookObject;
  /** `null` on create; the changed fields' previous values on change; the last state on delete. */
  previous: (E extends PipedriveTypedEntity ? Partial<PipedriveWebhookObjects[E]> : PipedriveWebhookObject) | null;
};

/** A v1 event: `current` (as `data`) and `previous` untyped, as v1 renders objects differently. */
export type PipedriveV1Event<E extends string, A extends PipedriveWebhookAction> = EventFields<E, A> & {
  version: 1;
  /** v1's `current`; `null` on delete. */
  data: A extends 'delete' ? null : PipedriveWebhookObject;
  /** v1's `previous`: the object before the change (the whole object). */
  previous: PipedriveWebhookObject | null;
  /** v1's action word (`added`, `updated`, `merged`, `deleted`). */
  v1Action: string;
};

/** A parsed Pipedrive webhook event of entity `E` and action `A` (v2, or v1 with untyped objects). */
export type PipedriveWebhookEvent<
  E extends string = string,
  A extends PipedriveWebhookAction = PipedriveWebhookAction,
> = { [X in A]: PipedriveV2Event<E, X> | PipedriveV1Event<E, X> }[A];

/** The inbox event type of a Pipedrive event: `<entity>.<action>`, e.g. `person.change`. */
export type PipedriveEventType = `${string}.${PipedriveWebhookAction}`;

const ACTIONS: ReadonlySet<string> = new Set(['create', 'change', 'delete']);
const V1_ACTIONS: Readonly<Record<string, PipedriveWebhookAction>> = {
  added: 'create',
  updated: 'change',
  merged: 'change',
  deleted: 'delete',
};

const objectOrNull = z.union([z.looseObject({}), z.null()]).optional();
const timestampSchema = z.union([z.string().min(1), z.number()]);

const v2Schema = z.looseObject({
  meta: z.looseObject({
    id: z.string().min(1),
    action: z.string().refine((a) => ACTIONS.has(a), 'must be create, change or delete'),
    entity: z.string().min(1),
    entity_id: z.union([z.string().min(1), z.number()]).optional(),
    timestamp: timestampSchema,
    version: z.literal('2.0').optional(),
  }),
  data: objectOrNull,
  previous: objectOrNull,
});

const v1Schema = z.looseObject({
  v: z.literal(1).optional(),
  event: z.string().optional(),
  meta: z.looseObject({
    action: z.string().refine((a) => Object.hasOwn(V1_ACTIONS, a), 'must be added, updated, merged or deleted'),
    object: z.string().min(1),
    id: z.union([z.number(), z.string().min(1)]),
    timestamp: timestampSchema,
    timestamp_micro: z.union([z.number(), z.string()]).optional(),
  }),
  current: objectOrNull,
  previous: objectOrNull,
});

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

/**
 * A webhook timestamp in ms: Pipedrive documents a "10 character timestamp"
 * (Unix seconds) but sends ISO 8601 in its examples, so both are read, and a
 * number above 10^11 as milliseconds.
 */
export function webhookTimestamp(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') ms = value < 1e11 ? value * 1000 : value;
  else if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value)) ms = webhookTimestamp(Number(value)) ?? Number.NaN;
  else if (typeof value === 'string') {
    // Pipedrive's `2024-05-01 12:30:00` has no offset: UTC
    const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
    ms = Date.parse(iso);
  } else return undefined;
  return Number.isFinite(ms) ? Math.floor(ms) : undefined;
}

const isV1 = (payload: unknown): boolean => {
  if (typeof payload !== 'object' || payload === null) return false;
  const p = payload as { v?: unknown; meta?: { version?: unknown; object?: unknown } };
  return p.v === 1 || (p.meta?.version !== '2.0' && typeof p.meta?.object === 'string' && !('entity' in p.meta));
};

const invalid = (api: string, message: string, cause?: unknown) =>
  new PipedriveWebhookError(api, 'invalid_event', message, cause === undefined ? {} : { cause });

/**
 * Reads a (verified) Pipedrive webhook payload, v2 or v1, into a
 * {@link PipedriveWebhookEvent}: the envelope always, and for v2 events of
 * persons, organizations and deals the typed fields of `data` and `previous`.
 *
 * @throws PipedriveWebhookError `invalid_event` for anything that is not a
 *   Pipedrive webhook event (no `meta.id`, an unknown action, a timestamp that
 *   is not one, `data` that is not an object, a typed object without its id).
 * @example
 * ```ts
 * const event = parsePipedriveEvent(JSON.parse(body));
 * if (event.entity === 'person' && event.action === 'change') console.log(event.entityId, event.previous);
 * ```
 */
export function parsePipedriveEvent(payload: unknown, api = 'parsePipedriveEvent'): PipedriveWebhookEvent {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw invalid(api, 'not a Pipedrive webhook event: the payload is not a JSON object');
  return isV1(payload) ? parseV1(payload, api) : parseV2(payload, api);
}

function parseV2(payload: unknown, api: string): PipedriveWebhookEvent {
  const parsed = v2Schema.safeParse(payload);
  if (!parsed.success)
    throw invalid(api, `not a Pipedrive v2 webhook event: ${describeIssues(parsed.error)}`, parsed.error);
  const { meta } = parsed.data;
  const action = meta.action as PipedriveWebhookAction;
  const data = (parsed.data.data ?? null) as PipedriveWebhookObject | null;
  const previous = (parsed.data.previous ?? null) as PipedriveWebhookObject | null;
  const timestamp = webhookTimestamp(meta.timestamp);
  if (timestamp === undefined)
    throw invalid(api, `meta.timestamp is not a timestamp: ${JSON.stringify(meta.timestamp)}`);
  if (action !== 'delete' && data === null) throw invalid(api, `a ${action} event carries no data`);
  const entityId = String(meta.entity_id ?? data?.id ?? previous?.id ?? '');
  if (entityId === '' || entityId === 'undefined' || entityId === 'null')
    throw invalid(api, 'the event names no object (meta.entity_id, data.id and previous.id are missing)');
  const schema = Object.hasOwn(OBJECT_SCHEMAS, meta.entity)
    ? OBJECT_SCHEMAS[meta.entity as PipedriveTypedEntity]
    : undefined;
  if (schema && data !== null) {
    const checked = schema.safeParse(data);
    if (!checked.success)
      throw invalid(
        api,
        `${meta.entity} ${entityId}: data does not match: ${describeIssues(checked.error)}`,
        checked.error,
      );
  }
  if (schema && previous !== null) {
    const checked = (schema as z.ZodObject).partial().safeParse(previous);
    if (!checked.success)
      throw invalid(
        api,
        `${meta.entity} ${entityId}: previous does not match: ${describeIssues(checked.error)}`,
        checked.error,
      );
  }
  return {
    version: 2,
    id: meta.id,
    action,
    entity: meta.entity,
    entityId,
    timestamp,
    meta: parsed.data.meta,
    data: action === 'delete' ? null : data,
    previous,
  } as PipedriveWebhookEvent;
}

function parseV1(payload: unknown, api: string): PipedriveWebhookEvent {
  const parsed = v1Schema.safeParse(payload);
  if (!parsed.success)
    throw invalid(api, `not a Pipedrive v1 webhook event: ${describeIssues(parsed.error)}`, parsed.error);
  const { meta } = parsed.data;
  const action = V1_ACTIONS[meta.action] as PipedriveWebhookAction;
  const data = (parsed.data.current ?? null) as PipedriveWebhookObject | null;
  const timestamp = webhookTimestamp(meta.timestamp);
  if (timestamp === undefined)
    throw invalid(api, `meta.timestamp is not a timestamp: ${JSON.stringify(meta.timestamp)}`);
  if (action !== 'delete' && data === null) throw invalid(api, `a v1 ${meta.action} event carries no current object`);
  const entityId = String(meta.id);
  // v1 retries carry a new `retry` count: the id is what stays the same
  const when = meta.timestamp_micro ?? meta.timestamp;
  return {
    version: 1,
    id: `v1:${meta.object}:${entityId}:${meta.action}:${String(when)}`,
    action,
    v1Action: meta.action,
    entity: meta.object,
    entityId,
    timestamp,
    meta: parsed.data.meta,
    data: action === 'delete' ? null : data,
    previous: (parsed.data.previous ?? null) as PipedriveWebhookObject | null,
  } as PipedriveWebhookEvent;
}

/** The inbox event type of an event: `<entity>.<action>`. */
export function pipedriveEventType(event: Pick<PipedriveWebhookEvent, 'entity' | 'action'>): PipedriveEventType {
  return `${event.entity}.${event.action}`;
}

import {
  type BulkCosts,
  type BulkRecord,
  type BulkTarget,
  type BulkUpsertOptions,
  type BulkUpsertResult,
  bulkUpsert,
} from '@ballast/core/bulk';
import type { PipedriveClient, PipedriveSearchableResource } from './client';
import { isPipedriveError, isPipedriveUsageError, PipedriveUsageError } from './errors';
import { PIPEDRIVE_V2_COSTS } from './limits';

/** The entities a Pipedrive bulk job writes. */
export type PipedriveBulkEntity = 'persons' | 'organizations' | 'deals';

/** The body of a v2 create or update (`name`, `emails`, `custom_fields`, `org_id`, ...). */
export type PipedriveBulkBody = Record<string, unknown>;

/**
 * Options of {@link bulkUpsertPersons}, {@link bulkUpsertOrganizations} and
 * {@link bulkUpsertDeals}: core's `bulkUpsert` options (checkpoints, plan and
 * progress callbacks, budget policy, signal) without `target`, plus the
 * unique field.
 */
export interface PipedriveBulkOptions extends Omit<BulkUpsertOptions<PipedriveBulkBody>, 'target' | 'records'> {
  /** The records: each key is the value of `uniqueField` that identifies it in Pipedrive. */
  records: Iterable<BulkRecord<PipedriveBulkBody>>;
  /**
   * The field that identifies a record: the key of a custom field (the
   * 40-character hash of e.g. an "External ID" field; the job writes the key
   * into it on create) or, for persons, `email`.
   */
  uniqueField: string;
  /**
   * Budget units per request, for the plan.
   * @default v2 costs: a list page 10, a lookup (search + get) 21, a create 5, an update 5
   */
  costs?: Partial<BulkCosts>;
}

const CUSTOM_KEY = /^[0-9a-f]{40}$/;
const API = 'bulkUpsert';

/** The field a record's key is read from and written to. */
function fieldKind(entity: PipedriveBulkEntity, field: unknown, api: string): 'email' | 'custom' {
  if (field === 'email' && entity === 'persons') return 'email';
  if (typeof field === 'string' && CUSTOM_KEY.test(field)) return 'custom';
  throw new PipedriveUsageError(
    api,
    'invalid_options',
    `uniqueField must be the 40-character key of a custom field${entity === 'persons' ? " or 'email'" : ''}, got ${JSON.stringify(field)}`,
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A Pipedrive entity as core's `BulkTarget`: the index is one pass over the
 * v2 list (500 per page, only the unique custom field asked for), the lookup
 * of an uncertain create is the client's `findBy`, creates write the key into
 * the unique field, and pacing is the client's burst limiter.
 */
export function pipedriveBulkTarget(
  client: PipedriveClient,
  entity: PipedriveBulkEntity,
  uniqueField: string,
  costs: Partial<BulkCosts> = {},
): BulkTarget<PipedriveBulkBody> {
  const api = `bulkUpsert${entity[0]?.toUpperCase()}${entity.slice(1)}`;
  const kind = fieldKind(entity, uniqueField, api);
  const resource = client[entity] as PipedriveSearchableResource<{ id: number } & Record<string, unknown>>;
  const keysOf = (record: Record<string, unknown>): string[] => {
    if (kind === 'email') {
      const emails = Array.isArray(record.emails) ? record.emails : [];
      return emails
        .map((e) => (isObject(e) ? e.value : e))
        .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
        .map((v) => v.trim().toLowerCase());
    }
    const value = isObject(record.custom_fields) ? record.custom_fields[uniqueField] : undefined;
    return typeof value === 'string' || typeof value === 'number' ? [String(value).trim()] : [];
  };
  const keyed = (record: BulkRecord<PipedriveBulkBody>): PipedriveBulkBody => {
    if (kind === 'custom') {
      const custom = isObject(record.data.custom_fields) ? record.data.custom_fields : {};
      return { ...record.data, custom_fields: { ...custom, [uniqueField]: record.key } };
    }
    const emails = Array.isArray(record.data.emails) ? record.data.emails : [];
    const has = emails.some(
      (e) =>
        String(isObject(e) ? e.value : e)
          .trim()
          .toLowerCase() === record.key,
    );
    return has
      ? record.data
      : { ...record.data, emails: [...emails, { value: record.key, primary: emails.length === 0 }] };
  };
  const required = entity === 'deals' ? 'title' : 'name';
  return {
    name: entity,
    validate(record) {
      if (!isObject(record.data)) return 'data must be an object (the body of a v2 create or update)';
      if (record.data.custom_fields !== undefined && !isObject(record.data.custom_fields))
        return 'custom_fields must be an object';
      if (kind === 'email' && record.key !== record.key.trim().toLowerCase())
        return 'an email key must be trimmed and lower case (Pipedrive compares emails without case)';
      const own =
        kind === 'custom' && isObject(record.data.custom_fields) ? record.data.custom_fields[uniqueField] : undefined;
      if (own !== undefined && own !== null && String(own) !== record.key)
        return `custom_fields.${uniqueField} is ${JSON.stringify(own)} but the key is ${JSON.stringify(record.key)}`;
      return undefined;
    },
    async *index(signal) {
      const params = kind === 'custom' ? { limit: 500, custom_fields: uniqueField } : { limit: 500 };
      for await (const record of resource.list(params, { signal })) {
        for (const key of keysOf(record)) yield { key, id: String(record.id) };
      }
    },
    async find(key, signal) {
      const found = await resource.findBy({ field: uniqueField, value: key }, { signal });
      return found ? [String(found.id)] : [];
    },
    async create(record, signal) {
      const value = record.data[required];
      if (typeof value !== 'string' || value.trim() === '')
        throw new PipedriveUsageError(api, 'invalid_params', `a new ${entity.replace(/s$/, '')} needs a ${required}`);
      return String((await resource.create(keyed(record), { signal })).id);
    },
    async update(id, record, signal) {
      await resource.update(Number(id), keyed(record), { signal });
    },
    itemError(error) {
      if (isPipedriveUsageError(error)) return { code: 'invalid_record', message: error.message };
      if (!isPipedriveError(error)) return undefined;
      const info = (code: string) => ({
        code,
        message: error.message,
        ...(error.status === undefined ? {} : { status: error.status }),
      });
      if (error.kind === 'validation' || error.kind === 'not_found' || error.kind === 'request')
        return info(error.kind);
      if (error.kind === 'ambiguous_match') return info('ambiguous_key');
      return undefined;
    },
    isBudgetError: (error) => isPipedriveError(error) && error.kind === 'daily_budget_spent',
    costs: {
      indexPage: PIPEDRIVE_V2_COSTS.list,
      indexPageSize: 500,
      find: PIPEDRIVE_V2_COSTS.search + PIPEDRIVE_V2_COSTS.get,
      create: PIPEDRIVE_V2_COSTS.create,
      update: PIPEDRIVE_V2_COSTS.update,
      ...costs,
    },
    budget() {
      const b = client.budget();
      return b ? { remaining: b.remaining, resetsAt: new Date(b.resetAt) } : undefined;
    },
    rate: { requests: client.burstLimit, intervalMs: client.windowMs },
    concurrency: client.burstLimit,
  };
}

function bulk(entity: PipedriveBulkEntity) {
  return async (client: PipedriveClient, options: PipedriveBulkOptions): Promise<BulkUpsertResult> => {
    if (!isObject(options)) throw new PipedriveUsageError(API, 'invalid_options', 'options must be an object');
    const { uniqueField, costs, ...rest } = options;
    return bulkUpsert({ ...rest, target: pipedriveBulkTarget(client, entity, uniqueField, costs) });
  };
}

/**
 * Creates or updates thousands of persons keyed by a unique field (an
 * external-id custom field, or `email`), inside Pipedrive's limits: the plan
 * is made against the daily token budget before the first request (a job
 * that cannot finish today says so in `onPlan`, runs what fits and pauses
 * until the reset), requests are paced by the client's burst limiter (no 429
 * after the first window, so no ban), existing persons are found by one pass
 * over the list instead of a search per record, every create is checkpointed
 * before it is sent (resumed after a crash, a create that may have reached
 * Pipedrive is looked up, never sent twice), progress is reported, and one
 * record's failure is listed in the result without stopping the job.
 *
 * Pipedrive has no batch endpoint for creating or updating persons,
 * organizations or deals: each record is one request.
 *
 * @throws BulkError (`@ballast/core/bulk`) when the job stops as a whole: `target_failed` (bad token, ban,
 *   outage; the cause is the `PipedriveError`), `budget_short`, `aborted`, `store_failed`, `invalid_options`.
 * @example
 * ```ts
 * const result = await bulkUpsertPersons(pipedrive, {
 *   job: 'crm-import-2026-12',
 *   uniqueField: EXTERNAL_ID_FIELD,
 *   records: contacts.map((c) => ({ key: c.id, data: { name: c.name, emails: [{ value: c.email, primary: true }] } })),
 *   checkpoints: sqlBulkCheckpoints(db),
 *   onProgress: (p) => console.log(`${p.done}/${p.total}, ${Math.round((p.etaMs ?? 0) / 1000)} s left`),
 * });
 * ```
 */
export const bulkUpsertPersons: (client: PipedriveClient, options: PipedriveBulkOptions) => Promise<BulkUpsertResult> =
  bulk('persons');

/** {@link bulkUpsertPersons} for organizations (keyed by a custom field). */
export const bulkUpsertOrganizations: (
  client: PipedriveClient,
  options: PipedriveBulkOptions,
) => Promise<BulkUpsertResult> = bulk('organizations');

/** {@link bulkUpsertPersons} for deals (keyed by a custom field; a new deal needs a `title`). */
export const bulkUpsertDeals: (client: PipedriveClient, options: PipedriveBulkOptions) => Promise<BulkUpsertResult> =
  bulk('deals');

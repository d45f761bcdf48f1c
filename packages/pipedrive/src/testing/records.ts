import type { Random } from './random';

/** A JSON value as the fake stores and renders it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** The record types the fake holds. */
export type FakeEntity = 'person' | 'organization' | 'deal' | 'activity' | 'product';

/** The URL segment of each entity (`/api/v2/persons`, ...). */
export const ENTITY_PATHS: Record<FakeEntity, string> = {
  person: 'persons',
  organization: 'organizations',
  deal: 'deals',
  activity: 'activities',
  product: 'products',
};

/** Field a create must carry, per entity (Pipedrive answers 400 without it). */
export const REQUIRED_FIELD: Record<FakeEntity, string | undefined> = {
  person: 'name',
  organization: 'name',
  deal: 'title',
  activity: undefined,
  product: 'name',
};

/** Fields a client may write, per entity (v2 names); others are ignored as Pipedrive ignores them. */
export const WRITABLE: Record<FakeEntity, readonly string[]> = {
  person: ['name', 'first_name', 'last_name', 'owner_id', 'org_id', 'emails', 'phones', 'visible_to', 'label_ids'],
  organization: ['name', 'owner_id', 'address', 'visible_to', 'label_ids'],
  deal: [
    'title',
    'owner_id',
    'person_id',
    'org_id',
    'pipeline_id',
    'stage_id',
    'value',
    'currency',
    'status',
    'probability',
    'expected_close_date',
    'visible_to',
    'label_ids',
  ],
  activity: ['subject', 'type', 'owner_id', 'deal_id', 'person_id', 'org_id', 'due_date', 'due_time', 'done', 'note'],
  product: ['name', 'code', 'description', 'unit', 'tax', 'owner_id', 'prices', 'visible_to'],
};

/** A custom field definition: Pipedrive keys custom fields by a 40-character hash. */
export interface FakeCustomField {
  /** 40 lowercase hex characters. */
  key: string;
  name: string;
  /** @default 'varchar' */
  field_type: string;
}

/** One stored record. Times are milliseconds on the fake's clock. */
export interface StoredRecord {
  id: number;
  fields: JsonObject;
  custom: JsonObject;
  addTime: number;
  updateTime: number;
  deleted: boolean;
}

/** RFC 3339 without milliseconds, as v2 writes times. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** `YYYY-MM-DD HH:MM:SS`, as v1 writes times. */
export function v1Time(ms: number): string {
  return rfc3339(ms).replace('T', ' ').replace('Z', '');
}

/** The v2 shape of a record. */
export function renderV2(entity: FakeEntity, record: StoredRecord, customKeys?: ReadonlySet<string>): JsonObject {
  const custom: JsonObject = {};
  for (const [key, value] of Object.entries(record.custom)) {
    if (!customKeys || customKeys.has(key)) custom[key] = value;
  }
  const out: JsonObject = {
    id: record.id,
    ...structuredClone(record.fields),
    add_time: rfc3339(record.addTime),
    update_time: rfc3339(record.updateTime),
    is_deleted: record.deleted,
  };
  if (entity !== 'activity') out.custom_fields = custom;
  return out;
}

/** The v1 shape of a record (webhook v1 payloads and `/v1/recents`): custom fields flat, `email`/`phone`. */
export function renderV1(entity: FakeEntity, record: StoredRecord): JsonObject {
  const { emails, phones, ...rest } = structuredClone(record.fields);
  const out: JsonObject = {
    id: record.id,
    ...rest,
    add_time: v1Time(record.addTime),
    update_time: v1Time(record.updateTime),
    active_flag: !record.deleted,
    ...structuredClone(record.custom),
  };
  if (entity === 'person') {
    out.email = emails ?? [];
    out.phone = phones ?? [];
  }
  return out;
}

const FIRST = ['Ada', 'Ben', 'Cleo', 'Dan', 'Eva', 'Finn', 'Gia', 'Hugo', 'Ines', 'Jon', 'Kai', 'Lea', 'Milo', 'Nora'];
const LAST = ['Berg', 'Costa', 'Diaz', 'Eklund', 'Fox', 'Grant', 'Hale', 'Ito', 'Jansen', 'Kova', 'Lund', 'Moreau'];
const ORG = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne', 'Tyrell', 'Soylent'];
const SUFFIX = ['Ltd', 'GmbH', 'Inc', 'AB', 'Oy', 'SA'];

/** Generated fields of the `index`-th record of an entity, from a seeded source. */
export function generateFields(entity: FakeEntity, index: number, random: Random, ownerId: number): JsonObject {
  switch (entity) {
    case 'person': {
      const first = random.pick(FIRST);
      const last = random.pick(LAST);
      return {
        name: `${first} ${last}`,
        first_name: first,
        last_name: last,
        owner_id: ownerId,
        org_id: null,
        emails: [{ value: `${first}.${last}.${index}@example.com`.toLowerCase(), primary: true, label: 'work' }],
        phones: [{ value: `+1555${String(1_000_000 + index).slice(1)}`, primary: true, label: 'work' }],
        visible_to: 3,
        label_ids: [],
      };
    }
    case 'organization':
      return {
        name: `${random.pick(ORG)} ${random.pick(SUFFIX)} ${index}`,
        owner_id: ownerId,
        address: null,
        visible_to: 3,
        label_ids: [],
      };
    case 'deal':
      return {
        title: `Deal ${index}`,
        owner_id: ownerId,
        person_id: null,
        org_id: null,
        pipeline_id: 1,
        stage_id: 1,
        value: 100 * (1 + random.int(100)),
        currency: 'EUR',
        status: 'open',
        probability: null,
        expected_close_date: null,
        visible_to: 3,
        label_ids: [],
      };
    case 'activity':
      return { subject: `Call ${index}`, type: 'call', owner_id: ownerId, done: false, due_date: null, due_time: null };
    case 'product':
      return { name: `Product ${index}`, code: `P-${index}`, unit: 'pcs', tax: 0, owner_id: ownerId, prices: [] };
  }
}

/** Default value given to a custom field by the generator. */
export function generateCustom(fields: readonly FakeCustomField[], index: number): JsonObject {
  const out: JsonObject = {};
  for (const field of fields) out[field.key] = field.name === 'External ID' ? `ext-${index}` : null;
  return out;
}

import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate, type SqlClient } from '@ballast/core/stores/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../test-support/services';
import { contactsMapper, contactsTableSql } from './contacts';
import { parsePipedriveEvent } from './events';
import {
  PIPEDRIVE_SYNC_ENTITIES,
  type PipedriveSyncClient,
  type PipedriveSyncEntity,
  type PipedriveSyncListParams,
  type PipedriveSyncOptions,
  pipedriveSync,
  pipedriveTime,
} from './sync';
import { person, v2Payload } from './test-support';
import { isPipedriveWebhookError } from './webhook-errors';

type Row = { id: number; update_time: string; [field: string]: unknown };

/**
 * A stand-in for the v2 list endpoints: cursor pages over records kept per
 * entity, `updated_since` (>=) and `sort_by=update_time` honoured, every call's
 * params recorded.
 */
function listClient() {
  const records: Record<PipedriveSyncEntity, Map<number, Row>> = {
    persons: new Map(),
    organizations: new Map(),
    deals: new Map(),
  };
  const calls: Array<{ entity: PipedriveSyncEntity } & PipedriveSyncListParams> = [];
  const resource = (entity: PipedriveSyncEntity) => ({
    async *pages(params: PipedriveSyncListParams) {
      calls.push({ entity, ...params });
      let list = [...records[entity].values()];
      if (params.updated_since)
        list = list.filter((r) => Date.parse(r.update_time) >= Date.parse(params.updated_since as string));
      list.sort(
        params.sort_by === 'update_time' ? (a, b) => a.update_time.localeCompare(b.update_time) : (a, b) => a.id - b.id,
      );
      let offset = params.cursor ? Number(params.cursor) : 0;
      for (;;) {
        const items = list.slice(offset, offset + params.limit);
        offset += items.length;
        const nextCursor = offset < list.length ? String(offset) : null;
        yield { items, nextCursor };
        if (nextCursor === null) return;
      }
    },
  });
  const client: PipedriveSyncClient = {
    persons: resource('persons'),
    organizations: resource('organizations'),
    deals: resource('deals'),
  };
  return { client, records, calls };
}

let clockSecond = 0;
/** A Pipedrive `update_time`, moving forward one second per call. */
const tick = () => new Date(Date.UTC(2026, 0, 5, 10, 0, 0) + ++clockSecond * 1000).toISOString().replace('.000Z', 'Z');

function syncSuite(open: () => Promise<SqlClient>) {
  let db: SqlClient;
  let schema: string;
  beforeAll(async () => {
    db = await open();
    schema = uniqueSchema('pdsync');
    await migrate(db, { schema, modules: ['sync'] });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  let tenantCount = 0;
  function setup(extra: Partial<PipedriveSyncOptions> = {}) {
    const fake = listClient();
    const tenant = `t${tenantCount++}`;
    const sync = pipedriveSync({ client: fake.client, db, schema, tenant, pageSize: 2, ...extra });
    const put = (entity: PipedriveSyncEntity, row: { id: number; [field: string]: unknown }) => {
      const stored = { ...row, update_time: tick() } as Row;
      fake.records[entity].set(row.id, stored);
      return stored;
    };
    return { ...fake, sync, put, tenant };
  }

  it('a full run mirrors persons, organizations and deals over the cursor, and a later full run soft-deletes what Pipedrive no longer lists', async () => {
    const { sync, put, records } = setup();
    for (let i = 1; i <= 5; i++) put('persons', person(i, `Person ${i}`, `p${i}@example.com`));
    put('organizations', { id: 1, name: 'Acme' });
    put('deals', { id: 1, title: 'Deal', value: 10 });
    const first = await sync.run({ mode: 'full' });
    expect(first.persons?.counts).toMatchObject({ seen: 5, inserted: 5 });
    expect(first.persons?.pages).toBe(3);
    expect(first.organizations?.counts.inserted).toBe(1);
    expect(first.deals?.counts.inserted).toBe(1);
    records.persons.delete(4);
    const second = await sync.run({ mode: 'full', entities: ['persons'] });
    expect(second.persons?.counts).toMatchObject({ seen: 4, unchanged: 4, deleted: 1 });
    expect((await sync.tables.persons?.get(4))?.deletedAt).toBeInstanceOf(Date);
    expect(await sync.tables.persons?.count()).toBe(4);
  });

  it('an incremental run asks for updated_since (whole seconds, minus the lookback) sorted by update_time, and stores only what changed', async () => {
    const { sync, put, calls } = setup({ lookbackMs: 60_000 });
    put('persons', person(1, 'A', 'a@example.com'));
    const newest = put('persons', person(2, 'B', 'b@example.com'));
    await sync.run({ mode: 'full', entities: ['persons'] });
    put('persons', person(2, 'B changed', 'b@example.com'));
    put('persons', person(3, 'C', 'c@example.com'));
    const run = await sync.run({ mode: 'incremental', entities: ['persons'] });
    const asked = calls.at(-1);
    expect(asked).toMatchObject({
      entity: 'persons',
      sort_by: 'update_time',
      sort_direction: 'asc',
      updated_since: pipedriveTime(new Date(Date.parse(newest.update_time) - 60_000)),
    });
    expect(asked?.updated_since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(run.persons?.counts).toMatchObject({ inserted: 1, changed: 1 });
    expect((await sync.tables.persons?.get(2))?.data.name).toBe('B changed');
  });

  it('webhook events land in the same raw rows: create, change and delete applied, stale and v1 events not, an older page never overwrites them', async () => {
    const { sync, put } = setup();
    const p1 = put('persons', person(1, 'Listed', 'l@example.com'));
    await sync.run({ mode: 'full', entities: ['persons'] });
    const changed = { ...p1, name: 'From webhook', update_time: tick() };
    expect(await sync.applyEvent(parsePipedriveEvent(v2Payload('person', 'change', changed)))).toBe(true);
    expect((await sync.tables.persons?.get(1))?.data.name).toBe('From webhook');
    // a run whose page still carries the older state (Pipedrive listed it before the change)
    const run = await sync.run({ mode: 'full', entities: ['persons'] });
    expect(run.persons?.counts).toMatchObject({ unchanged: 1, changed: 0, deleted: 0 });
    expect((await sync.tables.persons?.get(1))?.data.name).toBe('From webhook');
    // stale per the handler's guard, and v1: not applied
    const stale = parsePipedriveEvent(v2Payload('person', 'change', { ...changed, name: 'Stale' }));
    expect(await sync.applyEvent(stale, { stale: true })).toBe(false);
    const v1 = parsePipedriveEvent({
      v: 1,
      meta: { action: 'updated', object: 'person', id: 1, timestamp: 1_767_607_300 },
      current: { id: 1, name: 'v1 shape', email: [] },
    });
    expect(await sync.applyEvent(v1)).toBe(false);
    expect(await sync.applyEvent(parsePipedriveEvent(v2Payload('lead', 'create', { id: 'x', title: 'Lead' })))).toBe(
      false,
    );
    expect((await sync.tables.persons?.get(1))?.data.name).toBe('From webhook');
    // create of a person no run has listed yet, then its delete
    const fresh = { ...person(50, 'New', 'n@example.com'), update_time: tick() };
    await sync.applyEvent(parsePipedriveEvent(v2Payload('person', 'create', fresh)));
    expect((await sync.tables.persons?.get(50))?.deletedAt).toBeNull();
    await sync.applyEvent(parsePipedriveEvent(v2Payload('person', 'delete', fresh)));
    expect((await sync.tables.persons?.get(50))?.deletedAt).toBeInstanceOf(Date);
  });

  it('the incremental run picks up the changes made while webhooks were banned (their events lost)', async () => {
    const { sync, put, records } = setup();
    for (let i = 1; i <= 4; i++) put('persons', person(i, `P${i}`, `p${i}@example.com`));
    await sync.run({ mode: 'full', entities: ['persons'] });
    // a change delivered by webhook
    const p1 = records.persons.get(1) as Row;
    const viaWebhook = { ...p1, name: 'P1 via webhook', update_time: tick() };
    records.persons.set(1, viaWebhook);
    await sync.applyEvent(parsePipedriveEvent(v2Payload('person', 'change', viaWebhook)));
    // the endpoint is banned for 30 minutes: these changes' events are never delivered
    put('persons', { ...(records.persons.get(2) as Row), name: 'P2 during ban' });
    put('persons', person(5, 'P5 created during ban', 'p5@example.com'));
    expect((await sync.tables.persons?.get(2))?.data.name).toBe('P2');
    expect(await sync.tables.persons?.get(5)).toBeUndefined();
    const run = await sync.run({ mode: 'incremental', entities: ['persons'] });
    expect(run.persons?.counts).toMatchObject({ inserted: 1, changed: 1 });
    expect((await sync.tables.persons?.get(2))?.data.name).toBe('P2 during ban');
    expect((await sync.tables.persons?.get(5))?.data.name).toBe('P5 created during ban');
    expect((await sync.tables.persons?.get(1))?.data.name).toBe('P1 via webhook');
  });

  it('contacts mapper: a renamed field lands in quarantine while the contact keeps its last good data; a fixed payload releases it', async () => {
    const { sync, put, records, tenant } = setup();
    const contacts = `contacts_${tenant}`;
    await db.exec(`${contactsTableSql(`${schema}.${contacts}`)}`);
    const mapper = contactsMapper({ table: `${schema}.${contacts}` });
    put('persons', person(1, 'Ada Lovelace', 'ada@example.com'));
    put('persons', person(2, 'Alan Turing', 'alan@example.com'));
    await sync.run({ mode: 'full', entities: ['persons'] });
    const table = sync.tables.persons;
    if (!table) throw new Error('no persons table');
    expect(await mapper.run(table)).toMatchObject({ written: 2, quarantined: 0 });
    const read = async () =>
      (
        await db.query<{ pipedrive_id: string; name: string; email: string | null }>(
          `SELECT pipedrive_id::text, name, email FROM ${schema}.${contacts} ORDER BY pipedrive_id`,
        )
      ).rows;
    expect(await read()).toEqual([
      { pipedrive_id: '1', name: 'Ada Lovelace', email: 'ada@example.com' },
      { pipedrive_id: '2', name: 'Alan Turing', email: 'alan@example.com' },
    ]);
    // Pipedrive renames `emails` to `email_addresses` in its payload (and Ada changes her name)
    const { emails, ...rest } = records.persons.get(1) as Row & { emails: unknown };
    put('persons', { ...rest, name: 'Ada King', email_addresses: emails });
    await sync.run({ mode: 'incremental', entities: ['persons'] });
    const after = await mapper.run(table);
    expect(after).toMatchObject({ quarantined: 1, written: 0 });
    const [entry] = await mapper.quarantined(table);
    expect(entry).toMatchObject({ externalId: '1', stage: 'validate' });
    expect(entry?.issues?.[0]?.path).toEqual(['emails']);
    expect(await read()).toEqual([
      { pipedrive_id: '1', name: 'Ada Lovelace', email: 'ada@example.com' },
      { pipedrive_id: '2', name: 'Alan Turing', email: 'alan@example.com' },
    ]);
    // Pipedrive sends the field again: the row leaves quarantine with its new data
    put('persons', { ...(records.persons.get(1) as Row), emails, email_addresses: undefined });
    await sync.run({ mode: 'incremental', entities: ['persons'] });
    expect(await mapper.run(table)).toMatchObject({ written: 1, released: 1 });
    expect((await read())[0]).toEqual({ pipedrive_id: '1', name: 'Ada King', email: 'ada@example.com' });
    expect(await mapper.quarantineCount(table)).toBe(0);
    // a person deleted in Pipedrive leaves the contacts table
    records.persons.delete(2);
    // one of two rows gone is beyond the mass-delete guard's 20%: this run is told it is expected
    await sync.run({ mode: 'full', entities: ['persons'], force: true });
    expect(await mapper.run(table)).toMatchObject({ deleted: 1 });
    expect((await read()).map((r) => r.pipedrive_id)).toEqual(['1']);
  });

  it('refuses bad options with a typed error', () => {
    const { client } = listClient();
    const bad: unknown[] = [
      undefined,
      { client, db: {} },
      { client, db, entities: [] },
      { client, db, entities: ['leads'] },
      { client: {}, db },
      { client, db, lookbackMs: -1 },
      { client, db, pageSize: 501 },
    ];
    for (const [i, options] of bad.entries()) {
      let caught: unknown;
      try {
        pipedriveSync(options as PipedriveSyncOptions);
      } catch (error) {
        caught = error;
      }
      expect(isPipedriveWebhookError(caught), `case ${i}`).toBe(true);
    }
    expect(PIPEDRIVE_SYNC_ENTITIES).toEqual(['organizations', 'persons', 'deals']);
  });
}

describe('pipedriveSync on PGlite', () => {
  syncSuite(() => createPGlite());
});

describeWithPostgres('pipedriveSync', (url) => {
  syncSuite(() => createPostgres({ connectionString: url, max: 4 }));
});

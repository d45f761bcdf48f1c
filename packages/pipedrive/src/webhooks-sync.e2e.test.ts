import { randomBytes } from 'node:crypto';
import { drainInbox, type Inbox } from '@ballast/core/inbox';
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate, type SqlClient, sqlInbox, sqlVersionStore } from '@ballast/core/stores/sql';
import { createVault, memoryVaultStore } from '@ballast/core/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../test-support/services';
import { pipedriveClient } from './client';
import { contactsMapper, contactsTableSql } from './contacts';
import { pipedriveSync } from './sync';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from './testing/index';
import { pipedriveWebhookCredentials, registerPipedriveWebhook } from './webhook-registration';
import { pipedriveEventHandlers, pipedriveWebhooks } from './webhooks';

const HOOK = 'https://app.example.com/webhooks/pipedrive';

/**
 * The whole path against the fake Pipedrive and its webhook sender: the
 * webhook registered with credentials from the vault, an ingest-only
 * endpoint (`worker: false`) drained as a serverless host would, the events
 * applied to the sync's raw rows behind the out-of-order guard, the
 * contacts mapper, a 30-minute ban whose events are lost and the
 * incremental sync that recovers them, and a renamed field quarantined.
 */
function endToEnd(open: () => Promise<SqlClient>) {
  let db: SqlClient;
  let schema: string;
  beforeAll(async () => {
    db = await open();
    schema = uniqueSchema('pde2e');
    await migrate(db, { schema });
    await db.exec(contactsTableSql(`${schema}.contacts`));
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('webhooks for latency, the incremental sync for completeness: a ban loses events, the sync brings them back', async () => {
    let endpointDown = false;
    let handle: (request: Request) => Promise<Response> = async () => new Response(null, { status: 503 });
    const answers: number[] = [];
    // the fake's clock: real time, moved past the ban's 30 minutes later on
    let offset = 0;
    const fake = createFakePipedrive({
      now: () => Date.now() + offset,
      rateLimit: false,
      webhooks: {
        retryDelaysMs: [3, 30, 150],
        target: async (request) => {
          const response = endpointDown ? new Response(null, { status: 500 }) : await handle(request);
          answers.push(response.status);
          return response;
        },
      },
    });
    const client = pipedriveClient({
      auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
      plan: 'lite',
      fetch: fake.fetch,
      limiter: false,
      breaker: false,
      retryBudget: false,
    });
    const vault = createVault({ keyring: `k1:${randomBytes(32).toString('base64')}`, store: memoryVaultStore() });
    await registerPipedriveWebhook({ client, vault, tenant: 'acme', subscriptionUrl: HOOK, eventObject: 'person' });

    const inbox: Inbox = sqlInbox(db, { schema });
    const endpoint = pipedriveWebhooks({
      credentials: await pipedriveWebhookCredentials(vault, 'acme'),
      inbox,
      worker: false,
      onError: () => {},
    });
    handle = endpoint;
    const sync = pipedriveSync({ client, db, schema, entities: ['persons'] });
    const persons = sync.tables.persons;
    if (!persons) throw new Error('no persons table');
    const on = pipedriveEventHandlers(
      { 'person.*': (event, context) => sync.applyEvent(event, context) },
      { versions: sqlVersionStore(db, { schema }) },
    );
    const drain = () => drainInbox({ inbox, source: 'pipedrive', on });
    const contacts = contactsMapper({ table: `${schema}.contacts` });
    const contact = async (id: number) =>
      (
        await db.query<{ name: string; email: string | null }>(
          `SELECT name, email FROM ${schema}.contacts WHERE pipedrive_id = $1`,
          [id],
        )
      ).rows[0];

    // 1. the first full sync
    fake.seed({ person: 6 });
    const full = await sync.run({ mode: 'full' });
    expect(full.persons?.counts.inserted).toBe(6);
    expect(await contacts.run(persons)).toMatchObject({ written: 6 });
    const email1 = (await contact(1))?.email;

    // 2. a change in Pipedrive arrives by webhook within the run of one drain
    fake.edit('person', 1, { name: 'Ada via webhook' });
    await fake.webhooksIdle();
    expect(answers).toEqual([200]);
    expect(await drain()).toMatchObject({ claimed: 1 });
    expect((await persons.get(1))?.data.name).toBe('Ada via webhook');
    await contacts.run(persons);
    expect(await contact(1)).toEqual({ name: 'Ada via webhook', email: email1 });

    // 3. the endpoint fails ten first deliveries: Pipedrive bans it for 30 minutes
    endpointDown = true;
    for (let i = 0; i < 10; i++) fake.edit('person', 2, { name: `Failing ${i}` });
    await fake.webhooksIdle();
    const hookId = fake.webhooks()[0]?.id as number;
    expect(fake.webhookBan(hookId)?.banned).toBe(true);
    endpointDown = false;
    // changes during the ban: their events are lost
    fake.edit('person', 3, { name: 'Changed during the ban' });
    fake.create('person', { name: 'Created during the ban', emails: [{ value: 'new@example.com', primary: true }] });
    await fake.webhooksIdle();
    expect(fake.deliveries.filter((d) => d.outcome === 'lost').length).toBeGreaterThanOrEqual(2);
    await drain();
    expect((await persons.get(3))?.data.name).not.toBe('Changed during the ban');
    expect(await persons.get(7)).toBeUndefined();

    // 4. the incremental sync closes the gap
    const incremental = await sync.run({ mode: 'incremental' });
    expect(incremental.persons?.counts).toMatchObject({ inserted: 1 });
    expect((await persons.get(3))?.data.name).toBe('Changed during the ban');
    expect((await persons.get(2))?.data.name).toBe('Failing 9');
    expect((await persons.get(7))?.data.name).toBe('Created during the ban');
    expect((await persons.get(1))?.data.name).toBe('Ada via webhook');
    await contacts.run(persons);
    expect(await contact(7)).toEqual({ name: 'Created during the ban', email: 'new@example.com' });

    // 5. the ban is over (31 minutes later on Pipedrive's clock); Pipedrive renames `emails`::
    // the raw row takes it, the mapper quarantines it, the contact keeps its data
    offset += 31 * 60_000;
    const before = await contact(4);
    fake.renameField('person', 'emails', 'email_addresses');
    fake.edit('person', 4, { name: 'Renamed payload' });
    await fake.webhooksIdle();
    await drain();
    expect((await persons.get(4))?.data).toMatchObject({ name: 'Renamed payload', email_addresses: expect.any(Array) });
    expect(await contacts.run(persons)).toMatchObject({ quarantined: 1 });
    expect((await contacts.quarantined(persons))[0]).toMatchObject({ externalId: '4', stage: 'validate' });
    expect(await contact(4)).toEqual(before);

    // 6. a delivery with credentials other than the stored ones: 401, never stored or processed
    const stray = await client.webhooks.create({
      subscription_url: HOOK,
      event_action: '*',
      event_object: 'person',
      http_auth_user: 'ballast-00000000',
      http_auth_password: 'not-the-stored-password',
    });
    const stored = (await inbox.counts()).total;
    answers.length = 0;
    fake.renameField('person', 'emails', null);
    fake.edit('person', 5, { name: 'Seen twice' });
    await fake.webhooksIdle();
    // the right webhook's delivery: 200; the stray one's: 401 on the first attempt and on Pipedrive's three retries
    expect(answers.sort()).toEqual([200, 401, 401, 401, 401]);
    expect((await inbox.counts()).total).toBe(stored + 1);
    await client.webhooks.delete(stray.id as number);
    await drain();
    expect((await persons.get(5))?.data.name).toBe('Seen twice');
    await endpoint.close();
    await inbox.close();
  });
}

describe('pipedrive webhooks + sync end to end on PGlite', () => {
  endToEnd(() => createPGlite());
});

describeWithPostgres('pipedrive webhooks + sync end to end', (url) => {
  endToEnd(() => createPostgres({ connectionString: url, max: 4 }));
});

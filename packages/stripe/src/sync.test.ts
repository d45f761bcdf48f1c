import { createPGlite } from '@ballast/core/stores/pglite';
import { migrate, type SqlClient } from '@ballast/core/stores/sql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeClient } from './client';
import { parseStripeEvent } from './events';
import { type StripeSyncOptions, stripeSync } from './sync';
import { createFakeStripe } from './testing/index';

let db: SqlClient;
let schemaCount = 0;
beforeAll(async () => {
  db = await createPGlite();
});
afterAll(() => db.close());

/** The fake behind the client; `lists` records customer list URLs, `faults.failAt` fails that one with a 400,
 * `faults.failEvents` the next `/v1/events` page. */
async function setup(entities?: StripeSyncOptions['entities']) {
  const schema = `stripe_sync_${schemaCount++}`;
  await migrate(db, { schema });
  // The sync tables stamp runs with the real clock: the fake runs two minutes behind until a test ticks it.
  let offset = -120_000;
  const fake = createFakeStripe({ rateLimit: false, now: () => Date.now() + offset });
  const lists: URL[] = [];
  const eventLists: URL[] = [];
  const faults = { failAt: 0, failEvents: false };
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === '/v1/events') eventLists.push(url);
    if (url.pathname === '/v1/events' && faults.failEvents) {
      faults.failEvents = false;
      return Response.json({ error: { type: 'api_error', message: 'injected' } }, { status: 400 });
    }
    if (url.pathname === '/v1/customers' && (init?.method ?? 'GET') === 'GET') {
      lists.push(url);
      if (lists.length === faults.failAt) {
        return Response.json({ error: { type: 'invalid_request_error', message: 'injected' } }, { status: 400 });
      }
    }
    return fake.fetch(input, init);
  };
  const client = stripeClient({
    apiKey: 'sk_test_sync',
    apiVersion: '2026-10-28.endive',
    fetch,
    limiter: false,
    breaker: false,
  });
  const sync = stripeSync({ client, db, schema, ...(entities ? { entities } : {}) });
  return { fake, client, sync, lists, eventLists, faults, tick: (ms: number) => (offset += ms) };
}

describe('stripeSync', () => {
  it('full run mirrors every entity through pagination, and soft-deletes what is gone', async () => {
    const { client, sync } = await setup();
    const product = await client.post<{ id: string }>('/v1/products', { name: 'Pro' });
    const price = await client.post<{ id: string }>('/v1/prices', {
      product: product.id,
      currency: 'eur',
      unit_amount: 900,
      recurring: { interval: 'month' },
    });
    const customers: string[] = [];
    for (let i = 0; i < 150; i++)
      customers.push((await client.post<{ id: string }>('/v1/customers', { email: `s${i}@example.com` })).id);
    await client.post('/v1/subscriptions', { customer: customers[0] as string, items: [{ price: price.id }] });

    const first = await sync.run({ mode: 'full' });
    expect(first.customers?.run.counts).toMatchObject({ seen: 150, inserted: 150 });
    expect(first.customers?.run.pages).toBe(2);
    expect(first.products?.run.counts.inserted).toBe(1);
    expect(first.prices?.run.counts.inserted).toBe(1);
    expect(first.subscriptions?.run.counts.inserted).toBe(1);
    expect(first.invoices?.run.counts.inserted).toBe(1);
    expect((await sync.tables.customers?.get(customers[5] as string))?.data.email).toBe('s5@example.com');

    await client.delete(`/v1/customers/${customers[1]}`);
    await client.post(`/v1/customers/${customers[2]}`, { name: 'Renamed' });
    const second = await sync.run({ mode: 'full', entities: ['customers'] });
    expect(second.customers?.run.counts).toMatchObject({ seen: 149, changed: 1, deleted: 1, unchanged: 148 });
    expect((await sync.tables.customers?.get(customers[1] as string))?.deletedAt).toBeInstanceOf(Date);
  });

  it('incremental run lists only objects created since the newest stored one (minus the lookback) and applies updates and deletions from events', async () => {
    const { client, sync, tick, fake } = await setup(['customers', 'products']);
    const old = await client.post<{ id: string }>('/v1/customers', { email: 'old@example.com' });
    const gone = await client.post<{ id: string }>('/v1/customers', { email: 'gone@example.com' });
    tick(600_000); // the newest customer comes ten minutes later: the old ones are outside the lookback
    await client.post('/v1/customers', { email: 'newest@example.com' });
    await sync.run({ mode: 'full' });
    tick(180_000);
    await client.post(`/v1/customers/${old.id}`, { name: 'Updated' });
    await client.delete(`/v1/customers/${gone.id}`);
    const fresh = await client.post<{ id: string }>('/v1/customers', { email: 'new@example.com' });
    const before = fake.requests.length;

    const result = await sync.run({ mode: 'incremental', entities: ['customers'] });
    // The newest customer is read again (inside the lookback) and left unchanged; the fresh one is new.
    expect(result.customers?.run.counts).toMatchObject({ seen: 2, inserted: 1, unchanged: 1, changed: 0 });
    expect(result.customers?.fromEvents).toEqual({ applied: 1, deleted: 1 });
    const listed = fake.requests.slice(before).filter((r) => r.path === '/v1/customers');
    expect(listed).toHaveLength(1);
    expect((await sync.tables.customers?.get(old.id))?.data.name).toBe('Updated');
    expect((await sync.tables.customers?.get(gone.id))?.deletedAt).toBeInstanceOf(Date);
    expect((await sync.tables.customers?.get(fresh.id))?.data.email).toBe('new@example.com');
  });

  it('an interrupted run resumes after its checkpoint; the next incremental run starts from the newest object', async () => {
    const { client, sync, lists, faults, tick } = await setup(['customers']);
    for (let i = 0; i < 250; i++) await client.post('/v1/customers', { email: `r${i}@example.com` });
    faults.failAt = lists.length + 2; // the second page
    await expect(sync.run({ mode: 'full' })).rejects.toThrow(/injected/);
    const checkpoint = lists.at(-1)?.searchParams.get('starting_after');
    expect(checkpoint).toMatch(/^cus_/);

    const afterFailure = lists.length;
    const resumed = await sync.run({ mode: 'full' });
    expect(resumed.customers?.run.resumed).toBe(true);
    expect(lists[afterFailure]?.searchParams.get('starting_after')).toBe(checkpoint);
    expect(lists.slice(afterFailure)).toHaveLength(2);
    expect(resumed.customers?.run.counts).toMatchObject({ seen: 250, inserted: 250 });

    tick(600_000);
    const newest = (await client.post<{ created: number }>('/v1/customers', { email: 'newest@example.com' })).created;
    await sync.run({ mode: 'incremental' });
    tick(180_000);
    const before = lists.length;
    const next = await sync.run({ mode: 'incremental' });
    expect(next.customers?.run.resumed).toBe(false);
    // Starts from the newest object stored, five minutes back: the 250 older ones are not listed again.
    expect(lists.slice(before)).toHaveLength(1);
    expect(lists[before]?.searchParams.has('starting_after')).toBe(false);
    expect(lists[before]?.searchParams.get('created[gte]')).toBe(String(newest - 300));
    expect(next.customers?.run.counts).toMatchObject({ seen: 1, unchanged: 1 });
  });

  it('an incremental run whose events fail does not complete, so the next run still applies them', async () => {
    const { client, sync, tick, faults } = await setup(['customers']);
    const old = await client.post<{ id: string }>('/v1/customers', { email: 'old@example.com' });
    tick(600_000);
    await client.post('/v1/customers', { email: 'newest@example.com' });
    await sync.run({ mode: 'full' });
    tick(180_000);
    await client.post(`/v1/customers/${old.id}`, { name: 'Updated' });

    faults.failEvents = true;
    await expect(sync.run({ mode: 'incremental' })).rejects.toThrow(/injected/);
    expect((await sync.tables.customers?.get(old.id))?.data.name).not.toBe('Updated');
    const [failed] = (await sync.tables.customers?.runs({ limit: 1 })) ?? [];
    expect(failed?.status).not.toBe('completed');

    const retried = await sync.run({ mode: 'incremental' });
    expect(retried.customers?.run.since).toEqual(failed?.since);
    expect(retried.customers?.fromEvents).toEqual({ applied: 1, deleted: 0 });
    expect((await sync.tables.customers?.get(old.id))?.data.name).toBe('Updated');
  });

  it("takes the window from Stripe's clock, not the database's: with Stripe two minutes behind, nothing created or changed after a run is missed", async () => {
    // setup() runs the fake two minutes behind the database clock that stamps the runs.
    const { client, sync, fake, eventLists } = await setup(['customers']);
    const old = await client.post<{ id: string; created: number }>('/v1/customers', { email: 'old@example.com' });
    await sync.run({ mode: 'full' });
    // Right after the run, by Stripe's clock two minutes before the run started by ours.
    const late = await client.post<{ id: string }>('/v1/customers', { email: 'late@example.com' });
    await client.post(`/v1/customers/${old.id}`, { name: 'Renamed' });
    const before = fake.requests.length;

    const result = await sync.run({ mode: 'incremental' });
    expect((await sync.tables.customers?.get(late.id))?.data.email).toBe('late@example.com');
    expect((await sync.tables.customers?.get(old.id))?.data.name).toBe('Renamed');
    expect(result.customers?.run.counts).toMatchObject({ inserted: 1, changed: 1 });
    const since = fake.requests.slice(before).filter((r) => r.path === '/v1/customers' && r.method === 'GET');
    expect(since).toHaveLength(1);
    expect(result.customers?.run.since?.getTime()).toBe((old.created - 300) * 1000);

    // The next run reads the events again from the newest one applied, minus the lookback, and changes nothing.
    const newestEvent = Math.max(...fake.events().map((e) => e.created as number));
    const again = await sync.run({ mode: 'incremental' });
    expect(eventLists.at(-1)?.searchParams.get('created[gte]')).toBe(String(newestEvent - 300));
    expect(again.customers?.run.counts).toMatchObject({ inserted: 0, changed: 0 });
    expect(again.customers?.fromEvents).toEqual({ applied: 0, deleted: 0 });
  });

  it('applyEvent upserts objects of synced entities and soft-deletes on *.deleted', async () => {
    const { client, sync, fake } = await setup(['products']);
    const product = await client.post<{ id: string }>('/v1/products', { name: 'Widget' });
    const created = parseStripeEvent(fake.events()[0]);
    expect(await sync.applyEvent(created)).toBe(true);
    expect((await sync.tables.products?.get(product.id))?.data.name).toBe('Widget');
    const deleted = parseStripeEvent({ ...created, id: 'evt_del', type: 'product.deleted' });
    expect(await sync.applyEvent(deleted)).toBe(true);
    expect((await sync.tables.products?.get(product.id))?.deletedAt).toBeInstanceOf(Date);
    const customer = await client.post<{ id: string }>('/v1/customers', {});
    const other = parseStripeEvent(
      fake.events().find((e) => (e.data as { object: { id: string } }).object.id === customer.id),
    );
    expect(await sync.applyEvent(other)).toBe(false);
    // A stale snapshot (a late *.created behind the guard) is not written over newer state.
    await client.post(`/v1/products/${product.id}`, { name: 'Gadget' });
    await sync.applyEvent(parseStripeEvent(fake.events()[0]));
    expect(await sync.applyEvent(created, { stale: true })).toBe(false);
    expect((await sync.tables.products?.get(product.id))?.data.name).toBe('Gadget');
  });

  it('rejects bad options', async () => {
    const { client } = await setup();
    expect(() => stripeSync({ client, db, entities: ['charges' as 'customers'] })).toThrow(/entities/);
    expect(() => stripeSync({ client, db: {} as SqlClient })).toThrow(/db must be/);
    expect(() => stripeSync({ client: {} as typeof client, db })).toThrow(/client must be/);
    expect(() => stripeSync({ client, db, lookbackMs: -1 })).toThrow(/lookbackMs must be/);
    const sync = stripeSync({ client, db, entities: ['prices'] });
    await expect(sync.run({ mode: 'full', entities: ['customers'] })).rejects.toThrow(/not synced/);
    await expect(sync.run({ mode: 'sometimes' as 'full' })).rejects.toThrow(/mode/);
  });
});

import { isBulkError } from '@ballast/core/bulk';
import { memoryBulkCheckpoints } from '@ballast/core/stores/memory';
import { describe, expect, it } from 'vitest';
import { bulkUpsertDeals, bulkUpsertOrganizations, bulkUpsertPersons } from './bulk';
import { type PipedriveClientOptions, pipedriveClient } from './client';
import { isPipedriveError } from './errors';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedriveOptions } from './testing/index';

const WINDOW = 200;

function setup(fakeOptions: FakePipedriveOptions = {}, clientOptions: Partial<PipedriveClientOptions> = {}) {
  const fake = createFakePipedrive({ windowMs: WINDOW, ...fakeOptions });
  const client = pipedriveClient({
    auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
    plan: 'lite',
    baseUrl: 'https://fake-company.pipedrive.com',
    fetch: fake.fetch,
    windowMs: WINDOW,
    breaker: false,
    retryBudget: false,
    ...clientOptions,
  });
  const field = fake.customFields.person[0]?.key as string;
  const keysOf = (entity: 'person' | 'organization' | 'deal' = 'person') => {
    const key = fake.customFields[entity][0]?.key as string;
    return fake
      .records(entity)
      .map((r) => (r.custom_fields as Record<string, unknown> | null)?.[key])
      .filter((v) => v !== null && v !== undefined);
  };
  return { fake, client, field, keysOf };
}

const contacts = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    key: `crm-${from + i}`,
    data: { name: `Contact ${from + i}`, emails: [{ value: `c${from + i}@example.com`, primary: true }] },
  }));

function exactlyOnce(keys: unknown[], n: number, prefix = 'crm') {
  expect(keys.length).toBe(n);
  expect(new Set(keys).size).toBe(n);
  for (let i = 0; i < n; i++) expect(keys).toContain(`${prefix}-${i}`);
}

describe('bulkUpsertPersons against the fake', () => {
  it('creates and updates by an external-id custom field, paced: no 429, no ban, one list pass instead of a search per record', async () => {
    const { fake, client, field, keysOf } = setup();
    for (let i = 0; i < 30; i++) fake.create('person', { name: `Old ${i}` }, { custom: { [field]: `crm-${i * 3}` } });
    const result = await bulkUpsertPersons(client, { job: 'import', uniqueField: field, records: contacts(120) });
    expect(result).toMatchObject({
      status: 'completed',
      total: 120,
      done: 120,
      created: 90,
      updated: 30,
      failures: [],
    });
    exactlyOnce(keysOf(), 120);
    const person = fake.records('person').find((p) => (p.custom_fields as Record<string, unknown>)[field] === 'crm-3');
    expect(person).toMatchObject({ name: 'Contact 3' });
    const stats = fake.stats();
    expect(stats.rateLimited).toBe(0);
    expect(stats.bans).toBe(0);
    expect(stats.byEndpoint['GET /api/v2/persons/search']).toBeUndefined();
    expect(stats.requests).toBe(121);
  });

  it('keys persons by email too', async () => {
    const { fake, client } = setup();
    fake.create('person', { name: 'Ada', emails: [{ value: 'c1@example.com', primary: true, label: 'work' }] });
    const result = await bulkUpsertPersons(client, {
      job: 'by-email',
      uniqueField: 'email',
      records: contacts(5).map((c, i) => ({ key: `c${i}@example.com`, data: { name: c.data.name } })),
    });
    expect(result).toMatchObject({ created: 4, updated: 1 });
    const emails = fake.records('person').flatMap((p) => (p.emails as Array<{ value: string }>).map((e) => e.value));
    expect(emails.sort()).toEqual([
      'c0@example.com',
      'c1@example.com',
      'c2@example.com',
      'c3@example.com',
      'c4@example.com',
    ]);
  });

  it('lists each record it could not write, typed, and writes every other one', async () => {
    const { fake, client, field, keysOf } = setup();
    fake.create('person', { name: 'Twin A' }, { custom: { [field]: 'crm-7' } });
    fake.create('person', { name: 'Twin B' }, { custom: { [field]: 'crm-7' } });
    const records = [
      ...contacts(10),
      { key: 'crm-bad-fields', data: { name: 'X', custom_fields: 'nope' } },
      { key: 'crm-no-name', data: { emails: [{ value: 'x@example.com' }] } },
      { key: 'crm-other-key', data: { name: 'Y', custom_fields: { [field]: 'something-else' } } },
      { key: 'crm-3', data: { name: 'twice' } },
    ];
    // Pipedrive refuses one create
    fake.fault(
      { kind: 'status', status: 400, message: 'Invalid email' },
      { method: 'POST', path: '/api/v2/persons', times: 1 },
    );
    const result = await bulkUpsertPersons(client, { job: 'bad', uniqueField: field, records, concurrency: 1 });
    expect(result.status).toBe('completed');
    expect(result.failures.map((f) => [f.key, f.code])).toEqual([
      ['crm-0', 'validation'],
      ['crm-7', 'ambiguous_key'],
      ['crm-bad-fields', 'invalid_record'],
      ['crm-no-name', 'invalid_record'],
      ['crm-other-key', 'invalid_record'],
      ['crm-3', 'duplicate_key'],
    ]);
    expect(result.failures[0]).toMatchObject({ status: 400, action: 'create' });
    expect(result.done).toBe(8);
    expect(keysOf().filter((k) => k === 'crm-7')).toHaveLength(2);
    expect(keysOf().sort()).toEqual([
      'crm-1',
      'crm-2',
      'crm-3',
      'crm-4',
      'crm-5',
      'crm-6',
      'crm-7',
      'crm-7',
      'crm-8',
      'crm-9',
    ]);
  });

  it('plans against the daily budget: a job that cannot finish today says so up front, runs what fits and pauses', async () => {
    // 1 list page (10) + 20 creates (5 each) = 110
    const { fake, client, field, keysOf } = setup({ dailyBudget: 115 }, { dailyBudget: 115 });
    const plans: unknown[] = [];
    const checkpoints = memoryBulkCheckpoints();
    const result = await bulkUpsertPersons(client, {
      job: 'big',
      uniqueField: field,
      records: contacts(40),
      checkpoints,
      concurrency: 1,
      onPlan: (plan) => plans.push({ ...plan, requestsSoFar: fake.requests.length }),
    });
    const midnight = new Date(Math.ceil(Date.now() / 86_400_000) * 86_400_000);
    expect(plans).toEqual([
      expect.objectContaining({ pending: 40, fitsToday: 21, finishesToday: false, cost: 210, requestsSoFar: 0 }),
    ]);
    expect(result).toMatchObject({ status: 'paused', done: 21, remaining: 19, resumeAfter: midnight });
    expect(fake.stats().rateLimited).toBe(0);
    exactlyOnce(keysOf(), 21);
    expect(await checkpoints.getJob('big')).toMatchObject({ status: 'paused', resumeAfter: midnight.toISOString() });
  });

  it('stops the job on a bad token (401) with target_failed, creating nothing', async () => {
    const { fake, client, field } = setup({ apiTokens: ['another-token-000000000000000000000000000'] });
    const error = await bulkUpsertPersons(client, { job: 'j', uniqueField: field, records: contacts(3) }).catch(
      (e: unknown) => e,
    );
    expect(isBulkError(error) && error.code).toBe('target_failed');
    expect(isBulkError(error) && isPipedriveError(error.cause) && error.cause.kind).toBe('unauthorized');
    expect(fake.records('person')).toEqual([]);
  });

  it('rejects a unique field that is neither a custom field key nor email, typed', async () => {
    const { client } = setup();
    await expect(
      bulkUpsertOrganizations(client, { job: 'j', uniqueField: 'email', records: [] }),
    ).rejects.toMatchObject({ name: 'PipedriveUsageError', code: 'invalid_options' });
  });

  it('upserts organizations and deals the same way', async () => {
    const { fake, client, keysOf } = setup();
    const orgField = fake.customFields.organization[0]?.key as string;
    const dealField = fake.customFields.deal[0]?.key as string;
    const orgs = await bulkUpsertOrganizations(client, {
      job: 'orgs',
      uniqueField: orgField,
      records: [1, 2, 3].map((i) => ({ key: `org-${i}`, data: { name: `Org ${i}` } })),
    });
    const deals = await bulkUpsertDeals(client, {
      job: 'deals',
      uniqueField: dealField,
      records: [
        ...[1, 2].map((i) => ({ key: `deal-${i}`, data: { title: `Deal ${i}` } })),
        { key: 'deal-3', data: { name: 'a deal needs a title' } },
      ],
    });
    expect(orgs).toMatchObject({ created: 3, failures: [] });
    expect(deals).toMatchObject({ created: 2, failures: [{ key: 'deal-3', code: 'invalid_record' }] });
    expect(keysOf('organization').sort()).toEqual(['org-1', 'org-2', 'org-3']);
    expect(keysOf('deal').sort()).toEqual(['deal-1', 'deal-2']);
  });
});

describe('bulkUpsertPersons over real sockets, in real time', () => {
  it('keeps to the burst window of the local fake server: no 429 after the first window, no ban', async () => {
    const fake = createFakePipedrive({ windowMs: 300 });
    const server = await fake.listen();
    try {
      const client = pipedriveClient({
        auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
        plan: 'lite',
        baseUrl: server.url,
        windowMs: 300,
      });
      const field = fake.customFields.person[0]?.key as string;
      const t0 = Date.now();
      const result = await bulkUpsertPersons(client, { job: 'sockets', uniqueField: field, records: contacts(100) });
      expect(result).toMatchObject({ status: 'completed', created: 100 });
      const late = fake.requests.filter((r) => r.status === 429 && r.at - t0 >= 300);
      expect(late).toEqual([]);
      expect(fake.stats().bans).toBe(0);
      // 101 requests at 20 per 300 ms cannot take less than 5 windows
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    } finally {
      await server.close();
    }
  });
});

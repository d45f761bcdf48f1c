import { createPGlite } from '@ballast/core/stores/pglite';
import { migrate, type SqlClient } from '@ballast/core/stores/sql';
import { pipedriveClient } from '@ballast/pipedrive';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedrive } from '@ballast/pipedrive/testing';
import type { Context } from '@netlify/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';
import { pipedriveBulkJob } from './netlify/functions/_shared/pipedrive-bulk';

const SECRET = 'bulk-job-secret-for-tests';
const WINDOW = 100;

function job(fake: FakePipedrive, n: number, name = 'import-1') {
  const field = fake.customFields.person[0]?.key as string;
  return {
    job: name,
    uniqueField: field,
    records: Array.from({ length: n }, (_, i) => ({ key: `crm-${i}`, data: { name: `Contact ${i}` } })),
  };
}

const post = (body: unknown, auth = `Bearer ${SECRET}`) =>
  new Request('https://example.netlify.app/.netlify/functions/pipedrive-bulk-background', {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

function keysIn(fake: FakePipedrive): unknown[] {
  const field = fake.customFields.person[0]?.key as string;
  return fake.records('person').map((p) => (p.custom_fields as Record<string, unknown>)[field]);
}

describe('Netlify background function: the Pipedrive bulk job (PGlite, fake Pipedrive)', () => {
  let db: SqlClient;
  beforeAll(async () => {
    db = await createPGlite();
    await migrate(db, { modules: ['bulk'] });
  });
  afterAll(() => db.close());

  const setup = (deadlineMs?: number) => setupOn(createFakePipedrive({ windowMs: WINDOW }), deadlineMs);
  const setupOn = (fake: FakePipedrive, deadlineMs?: number) => {
    const client = pipedriveClient({
      auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
      plan: 'lite',
      baseUrl: 'https://fake-company.pipedrive.com',
      fetch: fake.fetch,
      windowMs: WINDOW,
    });
    const run = pipedriveBulkJob({ db, client, secret: SECRET, ...(deadlineMs ? { deadlineMs } : {}) });
    return { fake, run };
  };

  it('runs a job to the end: 200 with the result, every record in Pipedrive once', async () => {
    const { fake, run } = setup();
    const response = await run(post(job(fake, 60)));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'completed',
      total: 60,
      done: 60,
      created: 60,
      failures: [],
    });
    expect(new Set(keysIn(fake)).size).toBe(60);
    expect(fake.stats().rateLimited).toBe(0);
  });

  it('stops at its deadline (202) and the same request resumes it without duplicates', async () => {
    const { fake, run } = setup(250);
    const body = job(fake, 200, 'import-deadline');
    const first = await run(post(body));
    expect(first.status).toBe(202);
    expect(await first.json()).toMatchObject({ status: 'interrupted' });
    const partial = keysIn(fake).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(200);
    // the next invocation: a new instance, its own client
    const second = await setupOn(fake).run(post(body));
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ status: 'completed', done: 200 });
    const keys = keysIn(fake);
    expect(keys).toHaveLength(200);
    expect(new Set(keys).size).toBe(200);
  });

  it('refuses a caller without the secret (401) and runs nothing', async () => {
    const { fake, run } = setup();
    expect((await run(post(job(fake, 5), 'Bearer wrong'))).status).toBe(401);
    expect((await run(post(job(fake, 5), ''))).status).toBe(401);
    expect(fake.requests).toHaveLength(0);
  });

  it('answers 400 to a body that is not a job, 405 to a GET, and 502 when Pipedrive refuses the token', async () => {
    const { fake, run } = setup();
    expect((await run(post('not json'))).status).toBe(400);
    expect((await run(post({ job: 'x', records: 'none' }))).status).toBe(400);
    expect((await run(post({ ...job(fake, 1), uniqueField: 'not-a-field' }))).status).toBe(400);
    expect((await run(new Request('https://example.netlify.app/x'))).status).toBe(405);
    expect(fake.requests).toHaveLength(0);
    const banned = pipedriveBulkJob({
      db,
      client: pipedriveClient({
        auth: { type: 'api_token', token: 'revoked-token-0000000000000000000000000' },
        plan: 'lite',
        baseUrl: 'https://fake-company.pipedrive.com',
        fetch: fake.fetch,
      }),
      secret: SECRET,
    });
    const refused = await banned(post(job(fake, 3, 'import-bad-token')));
    expect(refused.status).toBe(502);
    expect(await refused.json()).toMatchObject({ error: 'target_failed' });
  });
});

describeWithPostgres('Netlify background function file against Postgres', (url) => {
  const schema = uniqueSchema('nf_bulk');
  it('pipedrive-bulk-background runs a job through Postgres and the fake server', async () => {
    const fake = createFakePipedrive({ windowMs: WINDOW });
    const server = await fake.listen();
    const saved = { ...process.env };
    Object.assign(process.env, {
      BALLAST_DB_URL: url,
      PIPEDRIVE_API_TOKEN: FAKE_PIPEDRIVE_API_TOKEN,
      PIPEDRIVE_BASE_URL: server.url,
      BULK_JOB_SECRET: SECRET,
    });
    try {
      const fn = (await import('./netlify/functions/pipedrive-bulk-background')).default;
      const response = await fn(post(job(fake, 30, `pg-${schema}`)), { requestId: 'req_1' } as Context);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'completed', done: 30 });
      expect(new Set(keysIn(fake)).size).toBe(30);
    } finally {
      process.env = saved;
      await server.close();
      const { createPostgres } = await import('@ballast/core/stores/postgres');
      const admin = await createPostgres({ connectionString: url, max: 1 });
      await admin.query(`DELETE FROM ballast.bulk_items WHERE job = $1`, [`pg-${schema}`]).catch(() => undefined);
      await admin.query(`DELETE FROM ballast.bulk_jobs WHERE job = $1`, [`pg-${schema}`]).catch(() => undefined);
      await admin.close();
    }
  });
});

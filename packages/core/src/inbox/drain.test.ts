import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPgBouncer } from '../../../../test-support/pgbouncer';
import { describeWithPostgres } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import type { SqlClient } from '../stores/sql';
import { signWebhook } from '../webhooks/sign';
import { drainInbox } from './drain';
import { createWebhookHandler } from './handler';
import type { InboxHandlers } from './handlers';
import { sqlInbox } from './sql';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from './testdata/databases';

const SECRET = 'whsec_drain_test';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function delivery(id: string, type: string): Promise<Request> {
  const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body: JSON.stringify({ id, type }) });
  return new Request('http://127.0.0.1/webhooks', {
    method: 'POST',
    headers: signed.headers,
    body: signed.body as string,
  });
}

function drainSuite(openDb: () => Promise<TestDatabase>) {
  let db: SqlClient;
  let schema: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ db, schema, drop } = await openDb());
    await migrate(db, { schema });
  });
  afterAll(async () => {
    await drop();
  });

  it('an ingest-only endpoint (worker: false) stores events that two concurrent drains process exactly once', async () => {
    const inbox = sqlInbox(db, { schema });
    const runs = new Map<string, number>();
    const on: InboxHandlers = {
      'invoice.*': async (event) => {
        await sleep(5); // real I/O-like time, so the two drains overlap
        runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
      },
    };
    const endpoint = createWebhookHandler({
      source: 'drained',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox,
      on,
      worker: false,
    });
    expect(endpoint.worker).toBeUndefined();
    const ids = Array.from({ length: 40 }, (_, i) => `evt_${i}`);
    for (const id of ids) expect((await endpoint(await delivery(id, 'invoice.paid'))).status).toBe(200);
    // nothing ran at ingest: no worker polls from the (possibly frozen) instance
    await sleep(50);
    expect(runs.size).toBe(0);
    expect((await inbox.counts({ source: 'drained' })).received).toBe(40);

    const [a, b] = await Promise.all([
      drainInbox({ inbox, source: 'drained', on, concurrency: 4 }),
      drainInbox({ inbox, source: 'drained', on, concurrency: 4 }),
    ]);
    expect(a.claimed + b.claimed).toBe(40);
    expect([a.budgetExhausted, b.budgetExhausted]).toEqual([false, false]);
    expect([...runs.keys()].sort()).toEqual([...ids].sort());
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(await inbox.counts({ source: 'drained' })).toMatchObject({ processed: 40, received: 0, processing: 0 });
    await endpoint.close();
  });

  it('stops claiming when its time budget ends, leaving the rest for the next drain', async () => {
    const inbox = sqlInbox(db, { schema });
    let runs = 0;
    const on: InboxHandlers = {
      '*': async () => {
        runs++;
        await sleep(30);
      },
    };
    for (let i = 0; i < 20; i++) await inbox.ingest('budget', { id: `b_${i}`, payload: { type: 't' } });
    const first = await drainInbox({ inbox, source: 'budget', on, concurrency: 1, budgetMs: 60 });
    expect(first.budgetExhausted).toBe(true);
    expect(first.claimed).toBeLessThan(20);
    expect(first.claimed).toBe(runs);
    const rest = await drainInbox({ inbox, source: 'budget', on, concurrency: 4 });
    expect(first.claimed + rest.claimed).toBe(20);
    expect(await inbox.counts({ source: 'budget' })).toMatchObject({ processed: 20, processing: 0 });
  });
}

describe('drainInbox on PGlite', () => {
  drainSuite(pgliteDatabase);
});

describeWithPostgres('drainInbox', (url) => {
  drainSuite(() => postgresDatabase(url, 'inboxdrain', 8));
});

describeWithPgBouncer('drainInbox on postgres.js', (url) => {
  drainSuite(() => postgresDatabase(url, 'inboxdrainpool', 8, 'postgres.js'));
});

/**
 * Run under Deno by `postgresjs-deno.test.ts`, never imported by the package:
 * the postgres.js driver and the stores built on it, as a Supabase Edge
 * Function would use them. Prints one JSON line of named results; the test
 * checks them.
 */
import process from 'node:process';
import { idempotent } from '../../idempotency/idempotent';
import { sqlIdempotencyStore } from '../../idempotency/sql-store';
import { sqlInbox } from '../../inbox/sql';
import { migrate } from '../migrate';
import { createPostgresJs } from '../postgresjs';

const [url = '', schema = ''] = process.argv.slice(2);
const db = await createPostgresJs(url, { max: 2 });
const results: Record<string, unknown> = { runtime: typeof (globalThis as { Deno?: unknown }).Deno };
try {
  results.migrated = (await migrate(db, { schema })).applied.length > 0;
  results.migratedAgain = (await migrate(db, { schema })).applied;

  const inbox = sqlInbox(db, { schema });
  const first = await inbox.ingest('stripe', { id: 'evt_deno_1', payload: { type: 'invoice.paid', n: 1 } });
  const again = await inbox.ingest('stripe', { id: 'evt_deno_1', payload: { type: 'invoice.paid', n: 1 } });
  results.ingest = [first.outcome, again.outcome];
  const stored = await inbox.get('stripe', 'evt_deno_1');
  results.stored = { type: stored?.type, status: stored?.status, payload: stored?.payload };

  let runs = 0;
  const once = idempotent(async (n: number) => ++runs + n, {
    store: sqlIdempotencyStore(db, { schema }),
    key: () => 'deno:key',
    lease: 30_000,
  });
  results.idempotent = [await once(10), await once(20), runs];

  const rolledBack = await db
    .transaction(async (tx) => {
      await tx.query(`INSERT INTO ${schema}.inbox_events_probe (v) VALUES ($1)`, ['x']);
    })
    .then(
      () => 'committed',
      (e: { code?: string }) => e.code,
    );
  results.rollbackError = rolledBack;
  const count = await db.transaction(async (tx) => {
    const res = await tx.query<{ n: number }>('SELECT $1::int + 1 AS n', [41]);
    return res.rows[0]?.n;
  });
  results.transaction = count;
} finally {
  await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.close();
}
console.log(JSON.stringify(results));

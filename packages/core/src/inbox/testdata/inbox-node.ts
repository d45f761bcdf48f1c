/**
 * One inbox node for the multi-process tests: an HTTP endpoint plus a worker,
 * on a shared Postgres. Spawned with
 * `node --conditions=@ballast/source --import tsx inbox-node.ts`; configured
 * through the environment; prints `{"port":N}` once it listens.
 *
 * The handler records each run in `<schema>.attempts` (outside the run's
 * transaction, so every invocation counts) and its side effect in
 * `<schema>.effects` (unique per event, inside the transaction). An event whose
 * payload has `hangFirst: true` hangs on its first attempt, so a test can kill
 * the process mid-handler.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PgBoss } from 'pg-boss';
import { createPostgres } from '../../stores/postgres';
import { toNodeHandler } from '../adapters';
import { createWebhookHandler } from '../handler';
import { pgBossQueue } from '../pg-boss-queue';
import { sqlInbox } from '../sql';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const url = env('DATABASE_URL');
const schema = env('INBOX_SCHEMA');
const secret = env('WEBHOOK_SECRET');
const concurrency = Number(env('CONCURRENCY', '8'));
const leaseMs = Number(env('LEASE_MS', '30000'));
const useBoss = env('QUEUE', 'inprocess') === 'pgboss';

const db = await createPostgres({ connectionString: url, max: 12 });
let boss: PgBoss | undefined;
if (useBoss) {
  boss = new PgBoss({ connectionString: url, schema: env('BOSS_SCHEMA'), max: 4 });
  boss.on('error', (error) => console.error('pg-boss:', error));
  await boss.start();
}

const webhook = createWebhookHandler({
  source: 'shop',
  verify: { scheme: 'stripe', secret },
  inbox: sqlInbox(db, { schema }),
  ...(boss ? { queue: pgBossQueue(boss) } : {}),
  worker: {
    concurrency,
    leaseMs,
    sweepIntervalMs: 200,
    retry: { initialDelayMs: 100, maxDelayMs: 1000 },
    idempotency: { transactional: true },
    onError: (error) => {
      if (process.env.INBOX_DEBUG) console.error(error);
    },
  },
  on: {
    'order.created': async (event, ctx) => {
      await db.query(`INSERT INTO ${schema}.attempts (event_id, pid) VALUES ($1, $2)`, [event.id, process.pid]);
      if ((event.payload as { hangFirst?: boolean }).hangFirst && ctx.attempt === 1) {
        await new Promise(() => {}); // killed here
      }
      await ctx.tx?.query(`INSERT INTO ${schema}.effects (event_id, pid) VALUES ($1, $2)`, [event.id, process.pid]);
    },
  },
});

const server = createServer(toNodeHandler(webhook));
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  void (async () => {
    await webhook.close();
    await boss?.stop({ graceful: false });
    await db.close();
    process.exit(0);
  })();
});

import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { signWebhook } from '../webhooks/sign';
import { createWebhookHandler, type WebhookHandler } from './handler';
import { sqlInbox } from './sql';
import { tcpProxy } from './testdata/tcp-proxy';

const SECRET = 'whsec_outage';

/** Delivers a signed event with this id to the handler; resolves with the status. */
const deliverer = (handler: WebhookHandler) => async (id: string) => {
  const body = JSON.stringify({ id, type: 'order.created' });
  const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
  return (await handler(new Request('http://127.0.0.1/hook', { method: 'POST', headers: signed.headers, body })))
    .status;
};

/** Re-sends the ids until each got a 200, as a provider retries; resolves with those still refused. */
async function retryUntilStored(deliver: (id: string) => Promise<number>, ids: string[]): Promise<string[]> {
  let pending = ids;
  for (let round = 0; pending.length > 0 && round < 20; round++) {
    const again = await Promise.all(pending.map(async (id) => [id, await deliver(id)] as const));
    pending = again.filter(([, status]) => status !== 200).map(([id]) => id);
  }
  return pending;
}

describeWithPostgres('inbox while Postgres is unreachable', (url) => {
  let direct: SqlClient;
  const schema = uniqueSchema('inboxout');
  beforeAll(async () => {
    direct = await createPostgres({ connectionString: url, max: 2 });
    await migrate(direct, { schema });
  });
  afterAll(async () => {
    await direct.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await direct.close();
  });

  it('answers 503, never 200, while it is down; the provider’s retries land every event once it is back', async () => {
    const target = new URL(url);
    const proxy = tcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    const viaProxy = new URL(url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    // no 'error' listener added here: the driver owns it (idle clients cut by the outage are reported)
    const db = await createPostgres(
      { connectionString: viaProxy.href, max: 4, connectionTimeoutMillis: 1000 },
      { onError: () => {} },
    );
    const handler = createWebhookHandler({
      source: 'shop',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox: sqlInbox(db, { schema, groupCommit: { timeoutMs: 2000 } }),
      onError: () => {},
    });
    const deliver = deliverer(handler);
    try {
      const before = await Promise.all(Array.from({ length: 20 }, (_, i) => deliver(`evt_before_${i}`)));
      expect(before.every((s) => s === 200)).toBe(true);

      await proxy.stop();
      const during = Array.from({ length: 30 }, (_, i) => `evt_during_${i}`);
      const statuses = await Promise.all(during.map((id) => deliver(id)));
      expect(statuses.filter((s) => s !== 503)).toEqual([]);
      // a 503 may follow a write whose commit raced the cut: the retry then finds a duplicate, never a loss

      await proxy.start(); // same port: the provider's retries reach a healthy store
      expect(await retryUntilStored(deliver, during)).toEqual([]);
      const rows = await direct.query<{ event_id: string }>(`SELECT event_id FROM ${schema}.inbox_events`);
      expect(rows.rows).toHaveLength(50);
      expect(new Set(rows.rows.map((r) => r.event_id)).size).toBe(50);
    } finally {
      await db.close();
      await proxy.stop();
    }
  }, 60_000);

  it('survives an admin killing the pool’s connections: 503s at worst, then every event stored', async () => {
    const app = `ballast_kill_${schema}`;
    // the default reporter: the test only silences its console line
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const db = await createPostgres({ connectionString: url, max: 4, application_name: app });
    const handler = createWebhookHandler({
      source: 'kill',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox: sqlInbox(db, { schema, groupCommit: { timeoutMs: 2000 } }),
      onError: () => {},
    });
    const deliver = deliverer(handler);
    const kill = () =>
      direct.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => deliver(`evt_warm_${i}`))); // idle clients in the pool
      await kill();
      await vi.waitFor(() => expect(logged).toHaveBeenCalled()); // the dropped idle clients were reported
      const ids = Array.from({ length: 60 }, (_, i) => `evt_kill_${i}`);
      const during = ids.map(async (id, i) => {
        if (i % 20 === 10) await kill(); // and again while writes are in flight
        return [id, await deliver(id)] as const;
      });
      const statuses = await Promise.all(during);
      expect(statuses.filter(([, s]) => s !== 200 && s !== 503)).toEqual([]);
      const refused = statuses.filter(([, s]) => s !== 200).map(([id]) => id);
      expect(await retryUntilStored(deliver, refused)).toEqual([]);
      const rows = await direct.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.inbox_events WHERE source = 'kill' AND event_id LIKE 'evt_kill_%'`,
      );
      expect(rows.rows[0]?.n).toBe(60);
      expect(String(logged.mock.calls[0]?.[0])).toContain('[postgres pool]');
    } finally {
      await handler.close();
      await db.close();
      logged.mockRestore();
    }
  }, 30_000);
});

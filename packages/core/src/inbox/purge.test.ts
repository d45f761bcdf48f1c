import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { createInbox, type Inbox } from './inbox';
import { sqlInboxDriver } from './sql-driver';

describeWithPostgres('inbox purge', (url) => {
  let db: SqlClient & { readonly pool: import('pg').Pool };
  let inbox: Inbox;
  const schema = uniqueSchema('purge');
  const table = `${schema}.inbox_events`;
  beforeAll(async () => {
    db = await createPostgres({ connectionString: url, max: 4 });
    await migrate(db, { schema, modules: ['inbox'] });
    inbox = createInbox(sqlInboxDriver(db, { schema }));
  });
  afterAll(async () => {
    await inbox.close();
    await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('does not delete an event a replay revived while the purge waited for its row', async () => {
    const old = new Date(Date.now() - 86_400_000);
    await inbox.ingest('race', { id: 'evt_dead', payload: { type: 't' } });
    await db.query(`UPDATE ${table} SET status = 'dead', updated_at = $1 WHERE event_id = 'evt_dead'`, [old]);
    // a replay holds the row (its transaction has not committed) while the purge runs
    const replayer = await db.pool.connect();
    try {
      await replayer.query('BEGIN');
      await replayer.query(
        `UPDATE ${table} SET status = 'received', attempts = 0, updated_at = now(), next_attempt_at = now()
         WHERE event_id = 'evt_dead'`,
      );
      const purging = inbox.purge({ olderThanMs: 60_000, status: 'dead' });
      // wait until the purge is blocked on the replay's row lock
      for (let i = 0; i < 200; i++) {
        const waiting = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM%${schema}%'`,
        );
        if ((waiting.rows[0]?.n ?? 0) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await replayer.query('COMMIT');
      expect(await purging).toBe(0);
    } finally {
      replayer.release();
    }
    expect(await inbox.get('race', 'evt_dead')).toMatchObject({ status: 'received' });
  });

  it('has an index that serves the purge of finished rows by status and age', async () => {
    const plan = await db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const res = await tx.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM ${table} WHERE status = ANY($1::text[]) AND updated_at < $2 ORDER BY updated_at, id LIMIT 100`,
        [['processed'], new Date()],
      );
      return res.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toMatch(
      /Index (Only )?Scan using inbox_events_finished_idx|Bitmap Index Scan on inbox_events_finished_idx/,
    );
  });
});

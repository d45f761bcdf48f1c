import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeWithPostgres } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPostgres } from '../stores/postgres';
import { sqlInbox } from './sql';
import { postgresDatabase, type TestDatabase } from './testdata/databases';
import { tcpProxy } from './testdata/tcp-proxy';
import { createInboxWorker } from './worker';

/**
 * Issue 10, defect 10, over real sockets and real time: a worker whose
 * Postgres is unreachable when it starts keeps trying (sweeping on its
 * interval), reports each cause once through the default reporter, and
 * processes the events stored meanwhile (by another process) once the
 * database is reachable again.
 */
describeWithPostgres('inbox worker started while its database is down', (url) => {
  let direct: TestDatabase;
  beforeAll(async () => {
    direct = await postgresDatabase(url, 'inboxstart', 2);
    await migrate(direct.db, { schema: direct.schema });
  });
  afterAll(async () => {
    await direct.drop();
  });

  it('processes the events stored meanwhile once the database is back, logging each cause once', async () => {
    const target = new URL(url);
    const proxy = tcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    await proxy.stop(); // the port now refuses connections: the database is "down"
    const viaProxy = new URL(url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const db = await createPostgres({ connectionString: viaProxy.toString(), max: 2, connectionTimeoutMillis: 500 });
    const logged: unknown[][] = [];
    const log = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
    const seen: string[] = [];
    const worker = createInboxWorker({
      inbox: sqlInbox(db, { schema: direct.schema }),
      source: 'restart',
      sweepIntervalMs: 100,
      on: { '*': async (event) => void seen.push(event.id) },
    });
    try {
      void worker.start();
      // stored meanwhile by another process that can reach the database
      const other = sqlInbox(direct.db, { schema: direct.schema });
      for (const id of ['m1', 'm2', 'm3']) await other.ingest('restart', { id, payload: { type: 't' } });
      await new Promise((resolve) => setTimeout(resolve, 600)); // several sweeps fail meanwhile
      expect(seen).toEqual([]);
      await proxy.start(); // back, on the same port
      await vi.waitFor(() => expect(seen.sort()).toEqual(['m1', 'm2', 'm3']), { timeout: 5000, interval: 50 });
      // the handler ran; the worker marks each event processed after its handler returns, so wait for the marks
      await vi.waitFor(
        async () => expect(await other.counts({ source: 'restart' })).toMatchObject({ processed: 3, received: 0 }),
        { timeout: 5000, interval: 50 },
      );
      const causes = logged.map((args) => String(args[1]));
      expect(causes.length).toBeGreaterThan(0);
      expect(new Set(causes).size).toBe(causes.length); // each cause once, though sweeps failed repeatedly
      expect(causes.every((c) => /ECONNREFUSED|connect|timeout/i.test(c))).toBe(true);
    } finally {
      log.mockRestore();
      await worker.stop();
      await db.close();
      await proxy.stop();
    }
  }, 15_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { isInboxError } from './errors';
import { createInbox, type Inbox } from './inbox';
import { memoryInboxDriver } from './memory-driver';
import { sqlInboxDriver } from './sql-driver';
import type { InboxDriver } from './types';

const codeOf = (error: unknown) => (isInboxError(error) ? error.code : error);
const outcomes = (results: PromiseSettledResult<{ outcome: string }>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? r.value.outcome : codeOf(r.reason)));

/** A payload nested `depth` arrays deep: valid JSON that `JSON.parse` reads and `JSON.stringify` cannot write. */
const deepPayload = (depth: number) =>
  JSON.parse(`{"type":"t","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`) as Record<string, unknown>;

const dataError = () => Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });

/** The memory driver, failing any insert that holds `bad` with a data error; `single` decides lone inserts. */
function failing(bad: string, single: (id: string) => Error | undefined = () => undefined) {
  const driver = memoryInboxDriver();
  const statements: number[] = [];
  let running = 0;
  let most = 0;
  const wrapped: InboxDriver = {
    ...driver,
    insert: async (events, now) => {
      statements.push(events.length);
      running++;
      most = Math.max(most, running);
      try {
        await new Promise((resolve) => setImmediate(resolve));
        if (events.length === 1) {
          const error = single((events[0] as { id: string }).id);
          if (error) throw error;
        }
        if (events.some((e) => e.id === bad)) throw dataError();
        return await driver.insert(events, now);
      } finally {
        running--;
      }
    },
  };
  return {
    driver: wrapped,
    statements,
    get most() {
      return most;
    },
  };
}

describe('ingest: a 2xx only for a committed row', () => {
  it('answers a same-batch copy of an event whose insert failed with its error, never duplicate', async () => {
    const store = failing('poison');
    const inbox = createInbox(store.driver);
    const results = await Promise.allSettled(
      ['a', 'poison', 'b', 'poison'].map((id) => inbox.ingest('s', { id, payload: { type: 't' } })),
    );
    expect(outcomes(results)).toEqual(['stored', 'invalid_event', 'stored', 'invalid_event']);
    expect(await inbox.get('s', 'poison')).toBeNull();
    expect((await inbox.counts()).total).toBe(2);
  });

  it('answers a same-batch copy store_unavailable when the isolation retry of its first copy hits a store error', async () => {
    const down = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    const store = failing('poison', (id) => (id === 'a' ? down : undefined));
    const inbox = createInbox(store.driver);
    const results = await Promise.allSettled(
      ['a', 'poison', 'a', 'b'].map((id) => inbox.ingest('s', { id, payload: { type: 't' } })),
    );
    expect(outcomes(results)).toEqual(['store_unavailable', 'invalid_event', 'store_unavailable', 'stored']);
    expect(await inbox.get('s', 'a')).toBeNull();
  });

  it('isolates a bad event by halving, one statement at a time, not one insert per event at once', async () => {
    const store = failing('e37');
    const inbox = createInbox(store.driver, { groupCommit: { maxBatch: 128 } });
    const ids = Array.from({ length: 128 }, (_, i) => `e${i}`);
    const results = await Promise.allSettled(ids.map((id) => inbox.ingest('s', { id, payload: { type: 't' } })));
    expect(outcomes(results).filter((o) => o !== 'stored')).toEqual(['invalid_event']);
    expect(store.most).toBe(1);
    expect(store.statements.length).toBeLessThanOrEqual(1 + 2 * Math.log2(128)); // 15, not 129
    expect((await inbox.counts()).total).toBe(127);
  });
});

describe('ingest: data errors and store errors are told apart explicitly', () => {
  it('counts a fetch-based driver’s TypeError as the store being unavailable, not a bad event', async () => {
    const inbox = createInbox({
      ...memoryInboxDriver(),
      insert: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const results = await Promise.allSettled(['a', 'b'].map((id) => inbox.ingest('s', { id, payload: { type: 't' } })));
    expect(outcomes(results)).toEqual(['store_unavailable', 'store_unavailable']);
  });

  it('refuses a payload that is not a JSON object with invalid_event and stores nothing', async () => {
    const inbox = createInbox(memoryInboxDriver());
    for (const payload of [[1, 2], 'x', null, 42, undefined, new Uint8Array([123, 125])]) {
      const error = await inbox.ingest('s', { id: 'e', payload }).catch((e: unknown) => e);
      expect(codeOf(error), JSON.stringify(payload)).toBe('invalid_event');
    }
    expect((await inbox.counts()).total).toBe(0);
  });

  it('takes the event type the scheme supplies over the payload’s', async () => {
    const inbox = createInbox(memoryInboxDriver());
    const result = await inbox.ingest('github', { id: 'd1', type: 'push', payload: { ref: 'refs/heads/main' } });
    expect(result).toMatchObject({ outcome: 'stored', type: 'push' });
    expect((await inbox.get('github', 'd1'))?.type).toBe('push');
    // a scheme that supplies none (undefined) leaves the payload's type
    await inbox.ingest('github', { id: 'd2', type: undefined, payload: { type: 'ping' } });
    expect((await inbox.get('github', 'd2'))?.type).toBe('ping');
  });
});

describe('ingest metrics', () => {
  it('reports each group-commit batch with its size, the queue depth and the batches in flight', async () => {
    const metrics: unknown[] = [];
    const driver = memoryInboxDriver();
    const gates: (() => void)[] = [];
    const inbox = createInbox(
      {
        ...driver,
        insert: async (events, now) => {
          await new Promise<void>((resolve) => gates.push(resolve));
          return driver.insert(events, now);
        },
      },
      { groupCommit: { maxInFlight: 1 }, onMetric: (m) => metrics.push(m) },
    );
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    const first = ['a', 'b', 'c'].map((id) => inbox.ingest('s', { id, payload: {} }));
    await tick();
    const second = ['d', 'e'].map((id) => inbox.ingest('s', { id, payload: {} })); // wait behind the first batch
    await tick();
    expect(metrics).toEqual([{ name: 'inbox.batch', size: 3, pending: 0, inFlight: 1 }]);
    gates.shift()?.();
    await Promise.all(first);
    await tick();
    expect(metrics[1]).toEqual({ name: 'inbox.batch', size: 2, pending: 0, inFlight: 1 });
    gates.shift()?.();
    await Promise.all(second);
  });

  it('reports the depth of the queue left behind when a batch is capped by maxBatch', async () => {
    const metrics: { name: string; pending?: number; size?: number }[] = [];
    const inbox = createInbox(memoryInboxDriver(), {
      groupCommit: { maxBatch: 4, maxInFlight: 1 },
      onMetric: (m) => metrics.push(m),
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => inbox.ingest('s', { id: `e${i}`, payload: {} })));
    expect(metrics.map((m) => [m.size, m.pending])).toEqual([
      [4, 6],
      [4, 2],
      [2, 0],
    ]);
  });
});

/** What every driver must do with deep payloads, raw bodies and purge. */
function ingestContract(open: () => Promise<{ driver: InboxDriver; close(): Promise<void> }>) {
  let inbox: Inbox;
  let close: () => Promise<void>;
  let n = 0;
  const source = () => `ing${++n}`;
  beforeAll(async () => {
    const opened = await open();
    inbox = createInbox(opened.driver);
    close = opened.close;
  });
  afterAll(async () => {
    await inbox.close();
    await close();
  });

  it('fails a payload nested 10,000 deep alone (invalid_event); the 200 valid events around it are stored', async () => {
    const src = source();
    const ids = Array.from({ length: 206 }, (_, i) => (i % 34 === 33 ? `deep${i}` : `ok${i}`));
    const results = await Promise.allSettled(
      ids.map((id) => inbox.ingest(src, { id, payload: id.startsWith('deep') ? deepPayload(10_000) : { type: 't' } })),
    );
    const got = outcomes(results);
    expect(got.filter((o) => o === 'stored')).toHaveLength(200);
    expect(ids.filter((_, i) => got[i] === 'invalid_event').every((id) => id.startsWith('deep'))).toBe(true);
    expect(got.filter((o) => o === 'invalid_event')).toHaveLength(6);
    expect((await inbox.counts({ source: src })).total).toBe(200);
  });

  it('keeps the raw body exactly: an integer above 2^53 round-trips through rawBody, with the headers', async () => {
    const src = source();
    const raw = '{"type":"charge","amount":12345678901234567890, "note":"caf\u00e9 \u{1F600}"}';
    const bytes = new TextEncoder().encode(raw);
    await inbox.ingest(src, {
      id: 'big',
      payload: JSON.parse(raw),
      rawBody: bytes,
      headers: { 'X-Signature': 'sha256=abc' },
    });
    const stored = await inbox.get(src, 'big');
    expect(stored?.rawBody).toBe(raw);
    expect(new TextEncoder().encode(stored?.rawBody ?? '')).toEqual(bytes);
    // the parsed payload cannot hold the integer; the raw body does
    expect(String((stored?.payload as { amount: number } | undefined)?.amount)).not.toBe('12345678901234567890');
    expect(stored?.rawBody).toContain('"amount":12345678901234567890,');
    expect(stored?.headers).toEqual({ 'x-signature': 'sha256=abc' });
    // an event ingested without them holds null
    await inbox.ingest(src, { id: 'plain', payload: { type: 't' } });
    expect(await inbox.get(src, 'plain')).toMatchObject({ rawBody: null, headers: null });
  });
}

describe('ingest contract on memory', () => {
  ingestContract(async () => ({ driver: memoryInboxDriver(), close: async () => {} }));
});

describe('ingest contract on PGlite', () => {
  let db: SqlClient;
  ingestContract(async () => {
    db = await createPGlite();
    await migrate(db, { modules: ['inbox'] });
    return { driver: sqlInboxDriver(db), close: () => db.close() };
  });
});

describeWithPostgres('ingest contract', (url) => {
  ingestContract(async () => {
    const schema = uniqueSchema('ingest');
    const db = await createPostgres({ connectionString: url, max: 8 });
    await migrate(db, { schema, modules: ['inbox'] });
    return {
      driver: sqlInboxDriver(db, { schema }),
      close: async () => {
        await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await db.close();
      },
    };
  });
});

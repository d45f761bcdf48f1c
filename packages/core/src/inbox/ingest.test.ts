import { describe, expect, it } from 'vitest';
import { isInboxError } from './errors';
import { createInbox } from './inbox';
import { memoryInboxDriver } from './memory-driver';
import type { InboxDriver } from './types';

const codeOf = (error: unknown) => (isInboxError(error) ? error.code : error);
const outcomes = (results: PromiseSettledResult<{ outcome: string }>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? r.value.outcome : codeOf(r.reason)));

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

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeWithPgBouncer } from '../../../../test-support/pgbouncer';
import { describeWithPostgres } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import type { SqlClient } from '../stores/sql';
import { isInboxError } from './errors';
import { createInbox, type Inbox } from './inbox';
import { memoryInboxDriver } from './memory-driver';
import { sqlInboxDriver } from './sql-driver';
import { postgresDatabase } from './testdata/databases';
import type { InboxDriver } from './types';

interface Harness {
  driver: InboxDriver;
  /** Closes the database, if any. */
  close(): Promise<void>;
}

/** Counts the driver's insert calls, to see group commit at work. */
function counting(driver: InboxDriver) {
  const calls: number[] = [];
  const wrapped: InboxDriver = {
    ...driver,
    insert: (events, now) => {
      calls.push(events.length);
      return driver.insert(events, now);
    },
  };
  return { driver: wrapped, calls };
}

const outcomes = (results: PromiseSettledResult<{ outcome: string }>[]) =>
  results.map((r) => (r.status === 'fulfilled' ? r.value.outcome : isInboxError(r.reason) ? r.reason.code : r.reason));

/** A payload nested `depth` arrays deep: valid JSON that `JSON.parse` reads and `JSON.stringify` cannot write. */
const deepPayload = (depth: number) =>
  JSON.parse(`{"type":"t","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`) as Record<string, unknown>;

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

/** The behaviour every inbox driver must have. */
function inboxContract(open: () => Promise<Harness>) {
  let harness: Harness;
  let inbox: Inbox;
  let calls: number[];
  let source: string;
  let seq = 0;
  const nextSource = () => `src${++seq}`;

  beforeAll(async () => {
    harness = await open();
    const c = counting(harness.driver);
    calls = c.calls;
    inbox = createInbox(c.driver);
  });
  afterAll(async () => {
    await inbox.close();
    await harness.close();
  });

  it('stores an event once and reports later deliveries as duplicates', async () => {
    source = nextSource();
    const first = await inbox.ingest(source, { id: 'evt_1', payload: { type: 'invoice.paid', n: 1 } });
    const again = await inbox.ingest(source, { id: 'evt_1', payload: { type: 'invoice.paid', n: 2 } });
    expect(first).toEqual({ source, id: 'evt_1', type: 'invoice.paid', outcome: 'stored' });
    expect(again.outcome).toBe('duplicate');
    const stored = await inbox.get(source, 'evt_1');
    expect(stored).toMatchObject({ status: 'received', attempts: 0, payload: { type: 'invoice.paid', n: 1 } });
    // the same id in another source is another event
    expect((await inbox.ingest(nextSource(), { id: 'evt_1', payload: {} })).outcome).toBe('stored');
  });

  it('group-commits concurrent deliveries and answers each duplicate exactly once as stored', async () => {
    source = nextSource();
    const before = calls.length;
    const ids = Array.from({ length: 60 }, (_, i) => `evt_${i % 20}`); // each id three times
    const results = await Promise.all(ids.map((id) => inbox.ingest(source, { id, payload: { type: 't' } })));
    const inserts = calls.length - before;
    expect(inserts).toBeLessThan(10); // 60 deliveries, a handful of statements
    const storedIds = results.filter((r) => r.outcome === 'stored').map((r) => r.id);
    expect(storedIds.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `evt_${i}`).sort());
    expect((await inbox.counts({ source })).received).toBe(20);
  });

  it('rejects unusable events with invalid_event and stores nothing', async () => {
    source = nextSource();
    const bad: [string, unknown][] = [
      ['', { id: 'e', payload: {} }],
      ['has space', { id: 'e', payload: {} }],
      [source, { id: '', payload: {} }],
      [source, { id: 42, payload: {} }],
      [source, { id: 'a\u0000b', payload: {} }],
      [source, { id: 'e', payload: {}, type: 7 }],
      [source, { id: 'x'.repeat(513), payload: {} }],
      [source, null],
    ];
    for (const [s, event] of bad) {
      const error = await inbox.ingest(s, event as never).catch((e: unknown) => e);
      expect(isInboxError(error) && error.code).toBe('invalid_event');
    }
    expect((await inbox.counts({ source })).total).toBe(0);
  });

  it('claims due events with a lease, never twice at once, and lets an expired lease be taken over', async () => {
    source = nextSource();
    for (let i = 0; i < 5; i++) await inbox.ingest(source, { id: `e${i}`, payload: { type: 't' } });
    const now = new Date(Date.now() + 1000);
    const lease = new Date(now.getTime() + 30_000);
    const [a, b] = await Promise.all([
      harness.driver.claim({ source, owner: 'a', now, leaseUntil: lease, limit: 3 }),
      harness.driver.claim({ source, owner: 'b', now, leaseUntil: lease, limit: 3 }),
    ]);
    const ids = [...(a ?? []), ...(b ?? [])].map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(5);
    expect(a?.[0]).toMatchObject({ status: 'processing', attempts: 1 });
    // nothing is due while the leases hold
    expect(await harness.driver.claim({ source, owner: 'c', now, leaseUntil: lease, limit: 10 })).toEqual([]);
    // after the lease, another worker takes them over, counting a second attempt
    const later = new Date(lease.getTime() + 1);
    const taken = await harness.driver.claim({
      source,
      owner: 'c',
      now: later,
      leaseUntil: new Date(later.getTime() + 30_000),
      limit: 10,
    });
    expect(taken.map((e) => e.attempts)).toEqual([2, 2, 2, 2, 2]);
    // the first holder lost its lease: its heartbeat and settle are refused
    const first = a?.[0];
    if (!first) throw new Error('no claim');
    expect(await harness.driver.extend(first, 'a', at(9e12), later)).toBe(false);
    expect(await harness.driver.settle(first, 'a', { status: 'processed' }, later)).toBe(false);
    // the holder's heartbeat moves the lease and the due time together
    const extended = new Date(later.getTime() + 90_000);
    expect(await harness.driver.extend(first, 'c', extended, later)).toBe(true);
    expect(await inbox.get(source, first.id)).toMatchObject({ leaseUntil: extended, nextAttemptAt: extended });
    expect(await harness.driver.settle(first, 'c', { status: 'processed' }, later)).toBe(true);
    expect(await inbox.get(source, first.id)).toMatchObject({ status: 'processed', leaseOwner: null });
  });

  it('claims one event by id, and only when it is due', async () => {
    source = nextSource();
    await inbox.ingest(source, { id: 'one', payload: { type: 't' } });
    await inbox.ingest(source, { id: 'two', payload: { type: 't' } });
    const now = new Date(Date.now() + 1000);
    const [claimed] = await harness.driver.claim({
      source,
      id: 'two',
      owner: 'w',
      now,
      leaseUntil: new Date(now.getTime() + 1000),
      limit: 1,
    });
    expect(claimed?.id).toBe('two');
    if (!claimed) throw new Error('no claim');
    const retryAt = new Date(now.getTime() + 60_000);
    await harness.driver.settle(claimed, 'w', { status: 'failed', error: 'boom', nextAttemptAt: retryAt }, now);
    const early = new Date(now.getTime() + 59_000);
    const none = await harness.driver.claim({
      source,
      id: 'two',
      owner: 'w',
      now: early,
      leaseUntil: retryAt,
      limit: 1,
    });
    expect(none).toEqual([]);
    expect(await inbox.get(source, 'two')).toMatchObject({ status: 'failed', lastError: 'boom', attempts: 1 });
    const due = await harness.driver.claim({
      source,
      id: 'two',
      owner: 'w',
      now: retryAt,
      leaseUntil: at(9e12),
      limit: 1,
    });
    expect(due.map((e) => e.attempts)).toEqual([2]);
  });

  it('replays dead events only, with a fresh attempt budget', async () => {
    source = nextSource();
    await inbox.ingest(source, { id: 'dead1', payload: { type: 't' } });
    await inbox.ingest(source, { id: 'ok1', payload: { type: 't' } });
    const now = new Date(Date.now() + 1000);
    const claimed = await harness.driver.claim({ source, owner: 'w', now, leaseUntil: at(9e12), limit: 10 });
    for (const e of claimed) {
      await harness.driver.settle(
        e,
        'w',
        e.id === 'dead1' ? { status: 'dead', error: 'gave up' } : { status: 'processed' },
        now,
      );
    }
    const seen: string[] = [];
    const off = inbox.subscribe((keys) => seen.push(...keys.map((k) => k.id)));
    expect(await inbox.replay('ok1')).toBe(0); // processed events are not replayed
    expect(await inbox.replay({ source, id: 'dead1' })).toBe(1);
    off();
    expect(seen).toEqual(['dead1']);
    expect(await inbox.get(source, 'dead1')).toMatchObject({ status: 'received', attempts: 0, lastError: 'gave up' });
    expect(await inbox.replay({ source })).toBe(0);
  });

  it('lists with filters and cursors, and counts by status', async () => {
    source = nextSource();
    for (let i = 0; i < 7; i++) {
      await inbox.ingest(source, { id: `l${i}`, payload: { type: i % 2 === 0 ? 'even' : 'odd' } });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await inbox.list({ source, limit: 3, ...(cursor === undefined ? {} : { cursor }) });
      seen.push(...page.events.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(['l0', 'l1', 'l2', 'l3', 'l4', 'l5', 'l6']);
    const odd = await inbox.list({ source, type: 'odd' });
    expect(odd.events.map((e) => e.id)).toEqual(['l1', 'l3', 'l5']);
    expect((await inbox.list({ source, status: ['processed', 'dead'] })).events).toEqual([]);
    expect(await inbox.counts({ source })).toEqual({
      received: 7,
      processing: 0,
      processed: 0,
      failed: 0,
      dead: 0,
      total: 7,
    });
    expect((await inbox.counts({ source, type: 'even' })).total).toBe(4);
  });

  it('purges finished events older than asked, and leaves the rest', async () => {
    source = nextSource();
    for (const id of ['old_done', 'old_dead', 'new_done', 'pending']) {
      await inbox.ingest(source, { id, payload: { type: 't' } });
    }
    const t0 = new Date(Date.now() + 1000);
    const claimed = await harness.driver.claim({ source, owner: 'w', now: t0, leaseUntil: at(9e12), limit: 10 });
    const settleAt = (id: string) => (id === 'new_done' ? new Date(t0.getTime() + 60_000) : t0);
    for (const e of claimed.filter((c) => c.id !== 'pending')) {
      const outcome = e.id === 'old_dead' ? { status: 'dead' as const, error: 'x' } : { status: 'processed' as const };
      await harness.driver.settle(e, 'w', outcome, settleAt(e.id));
    }
    const cutoff = new Date(t0.getTime() + 30_000);
    expect(await harness.driver.purge({ statuses: ['processed'], before: cutoff, source, limit: 100 })).toBe(1);
    expect(await inbox.get(source, 'old_done')).toBeNull();
    expect(await harness.driver.purge({ statuses: ['processed', 'dead'], before: cutoff, source, limit: 100 })).toBe(1);
    const left = (await inbox.list({ source })).events.map((e) => e.id);
    expect(left).toEqual(['new_done', 'pending']);
    // through the inbox, with its clock: everything finished before now
    expect(await inbox.purge({ olderThanMs: 0, source })).toBe(0); // new_done was settled in the future
    const error = await inbox.purge({ olderThanMs: -1 }).catch((e: unknown) => e);
    expect(isInboxError(error) && error.code).toBe('invalid_filter');
  });

  it('fails a payload nested 10,000 deep alone (invalid_event); the 200 valid events around it are stored', async () => {
    const src = nextSource();
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
    const src = nextSource();
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

  it('rejects malformed filters with invalid_filter', async () => {
    const attempts = [
      () => inbox.list({ limit: 0 }),
      () => inbox.list({ limit: 1001 }),
      () => inbox.list({ cursor: 'abc' }),
      () => inbox.list({ status: 'done' as never }),
      () => inbox.counts({ status: [] }),
      () => inbox.counts({ source: 3 as never }),
      () => inbox.replay({ status: 'processed' as never }),
      () => inbox.purge({ olderThanMs: 1, status: 'received' as never }),
      () => inbox.purge({ olderThanMs: 1, limit: 0 }),
      () => inbox.purge(null as never),
    ];
    for (const attempt of attempts) {
      const error = await attempt().catch((e: unknown) => e);
      expect(isInboxError(error) && error.code).toBe('invalid_filter');
    }
  });
}

describe('inbox on memory', () => {
  inboxContract(async () => ({ driver: memoryInboxDriver(), close: async () => {} }));
});

describe('inbox on PGlite', () => {
  let db: SqlClient;
  inboxContract(async () => {
    db = await createPGlite();
    await migrate(db, { modules: ['inbox'] });
    return { driver: sqlInboxDriver(db), close: () => db.close() };
  });
});

for (const driver of ['pg', 'postgres.js'] as const) {
  describeWithPostgres(driver === 'pg' ? 'inbox' : 'inbox on postgres.js', (url) => {
    inboxContract(async () => {
      const { db, schema, drop } = await postgresDatabase(url, 'inbox', 8, driver);
      await migrate(db, { schema, modules: ['inbox'] });
      return { driver: sqlInboxDriver(db, { schema }), close: drop };
    });
  });
  describeWithPgBouncer(driver === 'pg' ? 'inbox' : 'inbox on postgres.js', (url) => {
    inboxContract(async () => {
      const { db, schema, drop } = await postgresDatabase(url, 'inboxpool', 8, driver);
      await migrate(db, { schema, modules: ['inbox'] });
      return { driver: sqlInboxDriver(db, { schema }), close: drop };
    });
  });
}

describe('inbox store failures', () => {
  it('turns a failing store into store_unavailable, never a stored answer', async () => {
    const driver = memoryInboxDriver();
    const inbox = createInbox({
      ...driver,
      insert: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      },
    });
    const error = await inbox.ingest('s', { id: 'e', payload: {} }).catch((e: unknown) => e);
    expect(isInboxError(error) && error.code).toBe('store_unavailable');
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('answers store_unavailable, not duplicate, when a driver returns a result short', async () => {
    const driver = memoryInboxDriver();
    const inbox = createInbox({
      ...driver,
      insert: async (events, now) => (await driver.insert(events, now)).slice(1),
    });
    const error = await inbox.ingest('s', { id: 'short', payload: {} }).catch((e: unknown) => e);
    expect(isInboxError(error) && error.code).toBe('store_unavailable');
  });

  it('isolates an event the database rejects so the rest of its batch is stored', async () => {
    const driver = memoryInboxDriver();
    const inbox = createInbox({
      ...driver,
      insert: async (events, now) => {
        if (events.some((e) => e.id === 'poison')) {
          throw Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
        }
        return driver.insert(events, now);
      },
    });
    const results = await Promise.allSettled(
      ['a', 'poison', 'b'].map((id) => inbox.ingest('s', { id, payload: { type: 't' } })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const rejected = results[1] as PromiseRejectedResult;
    expect(isInboxError(rejected.reason) && rejected.reason.code).toBe('invalid_event');
    expect((await inbox.counts()).total).toBe(2);
  });

  it('turns failing reads and replays into store_unavailable', async () => {
    const down = async () => {
      throw new Error('connection terminated');
    };
    const inbox = createInbox({ ...memoryInboxDriver(), get: down, list: down, counts: down, replay: down });
    for (const call of [() => inbox.get('s', 'e'), () => inbox.list(), () => inbox.counts(), () => inbox.replay('e')]) {
      const error = await call().catch((e: unknown) => e);
      expect(isInboxError(error) && error.code).toBe('store_unavailable');
    }
  });

  it('refuses ingest after close with stopped', async () => {
    const inbox = createInbox(memoryInboxDriver());
    await inbox.close();
    const error = await inbox.ingest('s', { id: 'e', payload: {} }).catch((e: unknown) => e);
    expect(isInboxError(error) && error.code).toBe('stopped');
  });
});

describe('group commit', () => {
  it('overlaps batches only when enough events wait, and commits each waiter with its own batch', async () => {
    const driver = memoryInboxDriver();
    const batches: string[][] = [];
    const gates: (() => void)[] = [];
    const inbox = createInbox(
      {
        ...driver,
        insert: async (events, now) => {
          batches.push(events.map((e) => e.id));
          await new Promise<void>((resolve) => gates.push(resolve));
          return driver.insert(events, now);
        },
      },
      { groupCommit: { maxInFlight: 4, minParallelBatch: 3 } },
    );
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    const first = inbox.ingest('s', { id: 'a', payload: {} });
    await tick();
    expect(batches).toEqual([['a']]); // alone: written at once
    const second = [inbox.ingest('s', { id: 'b', payload: {} }), inbox.ingest('s', { id: 'c', payload: {} })];
    await tick();
    expect(batches).toHaveLength(1); // two waiting is below minParallelBatch: no second commit yet
    const third = inbox.ingest('s', { id: 'd', payload: {} });
    await tick();
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]); // three waiting: a parallel batch
    let settled = false;
    void third.then(() => {
      settled = true;
    });
    gates.shift()?.();
    expect((await first).outcome).toBe('stored');
    await tick();
    expect(settled).toBe(false); // the second batch has not committed: its waiters still wait
    gates.shift()?.();
    expect((await Promise.all([...second, third])).map((r) => r.outcome)).toEqual(['stored', 'stored', 'stored']);
  });

  it('closes within timeoutMs when the store never answers, having answered its waiters store_unavailable', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const inbox = createInbox(
        { ...memoryInboxDriver(), insert: () => new Promise<boolean[]>(() => {}) },
        { groupCommit: { timeoutMs: 5000 } },
      );
      const ingest = inbox.ingest('s', { id: 'hung', payload: {} }).catch((e: unknown) => e);
      await new Promise((resolve) => setImmediate(resolve)); // the batch is taken after the I/O of the turn
      let closed = false;
      const closing = inbox.close().then(() => {
        closed = true;
      });
      await vi.advanceTimersByTimeAsync(4999);
      expect(closed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await closing;
      const error = await ingest;
      expect(isInboxError(error) && error.code).toBe('store_unavailable');
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects bad group-commit options with invalid_options', () => {
    for (const groupCommit of [
      { maxBatch: 0 },
      { maxInFlight: 1.5 },
      { lingerMs: -1 },
      { timeoutMs: 0 },
      { minParallelBatch: 0 },
    ]) {
      let error: unknown;
      try {
        createInbox(memoryInboxDriver(), { groupCommit });
      } catch (e) {
        error = e;
      }
      expect(isInboxError(error) && error.code, JSON.stringify(groupCommit)).toBe('invalid_options');
    }
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { describeWithPostgres } from '../../../../test-support/services';
import { sqlVersionStore } from '../idempotency/sql-store';
import { versionGuard } from '../idempotency/version-guard';
import { migrate } from '../stores/migrate';
import type { SqlClient } from '../stores/sql';
import { isInboxError } from './errors';
import { permanentFailure } from './handlers';
import { createInbox, type Inbox, type InboxOptions } from './inbox';
import { memoryInbox } from './memory';
import { memoryInboxDriver } from './memory-driver';
import { type InboxQueue, inProcessQueue } from './queue';
import { sqlInbox } from './sql';
import { pgliteDatabase, postgresDatabase, type TestDatabase } from './testdata/databases';
import type { InboxMetric } from './types';
import { backoffDelay, createInboxWorker, type InboxWorker, normalizeRetry } from './worker';

/** A clock the test moves by hand: every stored time comes from it. */
function manualClock(start = Date.UTC(2026, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

const workers: InboxWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});
function track(worker: InboxWorker) {
  workers.push(worker);
  return worker;
}

/** Worker behaviour every inbox store must support. */
function workerContract(open: (options: InboxOptions) => Promise<{ inbox: Inbox; db?: SqlClient }>) {
  it('retries a failing handler with growing backoff, dead-letters it, and replay runs it once when fixed', async () => {
    const clock = manualClock();
    const { inbox } = await open({ clock: clock.now });
    let broken = true;
    let runs = 0;
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'acme',
        sweepIntervalMs: false,
        random: () => 0.5,
        retry: { maxAttempts: 4, initialDelayMs: 1000, factor: 2, jitter: 0.5 },
        on: {
          'order.created': async () => {
            runs++;
            if (broken) throw new Error('downstream is down');
          },
        },
      }),
    );
    await inbox.ingest('acme', { id: 'ord_1', payload: { type: 'order.created' } });
    await worker.drain();
    const delays: number[] = [];
    for (let attempt = 1; attempt < 4; attempt++) {
      const event = await inbox.get('acme', 'ord_1');
      expect(event).toMatchObject({ status: 'failed', attempts: attempt, lastError: 'Error: downstream is down' });
      const wait = (event?.nextAttemptAt?.getTime() ?? 0) - clock.now();
      delays.push(wait);
      clock.advance(wait - 1);
      await worker.drain(); // not due yet: nothing runs
      expect(runs).toBe(attempt);
      clock.advance(1);
      await worker.drain();
    }
    // 75% of 1 s, 2 s, 4 s with random() = 0.5 and jitter 0.5
    expect(delays).toEqual([750, 1500, 3000]);
    expect(runs).toBe(4);
    expect(await inbox.get('acme', 'ord_1')).toMatchObject({
      status: 'dead',
      attempts: 4,
      lastError: 'Error: downstream is down',
      nextAttemptAt: null,
    });
    expect((await inbox.list({ status: 'dead' })).events.map((e) => e.id)).toEqual(['ord_1']);

    broken = false;
    expect(await inbox.replay('ord_1')).toBe(1);
    await worker.drain();
    expect(runs).toBe(5);
    expect(await inbox.get('acme', 'ord_1')).toMatchObject({ status: 'processed', attempts: 1 });
    expect(await inbox.replay('ord_1')).toBe(0);
    await worker.drain();
    expect(runs).toBe(5);
  });

  it('lets another worker take an event over once the lease of a stuck one runs out', async () => {
    const clock = manualClock();
    const { inbox } = await open({ clock: clock.now });
    const runs: string[] = [];
    const stuck = track(
      createInboxWorker({
        inbox,
        source: 'acme',
        sweepIntervalMs: false,
        leaseMs: 5000,
        heartbeat: false, // stands for a process that died: nothing extends its lease
        on: { '*': () => new Promise(() => void runs.push('stuck')) },
      }),
    );
    await inbox.ingest('acme', { id: 'ord_2', payload: { type: 't' } });
    const claimed = stuck.drain(); // never settles: the handler hangs
    await vi.waitFor(() => expect(runs).toEqual(['stuck']));
    const rescuer = track(
      createInboxWorker({
        inbox,
        source: 'acme',
        sweepIntervalMs: false,
        leaseMs: 5000,
        on: {
          '*': async (_event, ctx) => {
            runs.push(ctx.takeover ? 'rescuer (takeover)' : 'rescuer');
          },
        },
      }),
    );
    await rescuer.drain();
    expect(runs).toEqual(['stuck']); // the lease still holds
    clock.advance(5001);
    await rescuer.drain();
    expect(runs).toEqual(['stuck', 'rescuer (takeover)']);
    expect(await inbox.get('acme', 'ord_2')).toMatchObject({ status: 'processed', attempts: 2 });
    void claimed;
    workers.splice(workers.indexOf(stuck), 1); // its handler never returns; do not wait for it
  });

  it('keeps every attempt in the history, and replays a processed event only with force, past its idempotency record', async () => {
    const clock = manualClock();
    const { inbox } = await open({ clock: clock.now });
    let fails = 2;
    let runs = 0;
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'history',
        sweepIntervalMs: false,
        onError: () => {},
        retry: { maxAttempts: 5, initialDelayMs: 1000, factor: 1, jitter: 0 },
        on: {
          '*': async () => {
            runs++;
            clock.advance(10);
            if (fails-- > 0) throw new Error(`failure ${2 - fails}`);
          },
        },
      }),
    );
    const t0 = clock.now();
    await inbox.ingest('history', { id: 'h1', payload: { type: 't' } });
    for (let i = 0; i < 3; i++) {
      await worker.drain();
      clock.advance(1000);
    }
    const done = await inbox.get('history', 'h1');
    expect(done).toMatchObject({ status: 'processed', attempts: 3, replays: 0 });
    expect(done?.history).toEqual([
      { attempt: 1, startedAt: new Date(t0), endedAt: new Date(t0 + 10), outcome: 'failed', error: 'Error: failure 1' },
      {
        attempt: 2,
        startedAt: new Date(t0 + 1010),
        endedAt: new Date(t0 + 1020),
        outcome: 'failed',
        error: 'Error: failure 2',
      },
      { attempt: 3, startedAt: new Date(t0 + 2020), endedAt: new Date(t0 + 2030), outcome: 'processed', error: null },
    ]);
    // a processed event: a plain replay leaves it, a filter without force is refused
    expect(await inbox.replay({ source: 'history', id: 'h1' })).toBe(0);
    await expect(inbox.replay({ source: 'history', status: 'processed' })).rejects.toMatchObject({
      code: 'invalid_filter',
    });
    expect(runs).toBe(3);
    // with force it runs again, although the idempotency record of the first run is still there
    expect(await inbox.replay({ source: 'history', id: 'h1', force: true })).toBe(1);
    await worker.drain();
    expect(runs).toBe(4);
    const again = await inbox.get('history', 'h1');
    expect(again).toMatchObject({ status: 'processed', attempts: 1, replays: 1 });
    expect(again?.history.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'processed'],
      [1, 'processed'],
    ]);
    expect(await inbox.replay({ source: 'history', status: 'processed', force: true })).toBe(1);
    await worker.drain();
    expect(runs).toBe(5);
    expect(await inbox.get('history', 'h1')).toMatchObject({ status: 'processed', replays: 2 });
  });

  it('dead-letters an event no handler matches by default, with the unhandled reason, and leaves other sources alone', async () => {
    const { inbox } = await open({});
    const errors: unknown[] = [];
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'acme',
        sweepIntervalMs: false,
        onError: (e) => errors.push(e),
        on: { 'order.created': async () => {} },
      }),
    );
    await inbox.ingest('acme', { id: 'x', payload: { type: 'unknown.type' } });
    await inbox.ingest('other', { id: 'y', payload: { type: 'unknown.type' } });
    await worker.drain();
    expect(await inbox.get('acme', 'x')).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastError: expect.stringContaining('no handler matches type "unknown.type"'),
    });
    expect(errors.map((e) => isInboxError(e) && e.code)).toEqual(['unhandled']);
    expect((await inbox.get('other', 'y'))?.status).toBe('received');
  });

  it("marks unhandled events processed with unhandled: 'processed', and lets a function decide per event", async () => {
    const { inbox } = await open({});
    const seen: string[] = [];
    const lenient = track(
      createInboxWorker({ inbox, source: 'lenient', sweepIntervalMs: false, unhandled: 'processed', on: {} }),
    );
    const picky = track(
      createInboxWorker({
        inbox,
        source: 'picky',
        sweepIntervalMs: false,
        onError: () => {},
        unhandled: async (event) => {
          seen.push(`${event.id}:${event.type}`);
          return event.type === 'ping' ? 'processed' : 'dead';
        },
        on: {},
      }),
    );
    await inbox.ingest('lenient', { id: 'l1', payload: { type: 'whatever' } });
    await inbox.ingest('picky', { id: 'p1', payload: { type: 'ping' } });
    await inbox.ingest('picky', { id: 'p2', payload: { type: 'push' } });
    await lenient.drain();
    await picky.drain();
    expect(await inbox.get('lenient', 'l1')).toMatchObject({ status: 'processed', lastError: null });
    expect(await inbox.get('picky', 'p1')).toMatchObject({ status: 'processed' });
    expect(await inbox.get('picky', 'p2')).toMatchObject({ status: 'dead' });
    expect(seen.sort()).toEqual(['p1:ping', 'p2:push']);
  });

  it('routes each type to the most specific handler: exact type, then the longest prefix wildcard, then *', async () => {
    const { inbox } = await open({});
    const ran: string[] = [];
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'routing',
        sweepIntervalMs: false,
        on: {
          'invoice.paid': async (e) => void ran.push(`exact:${e.id}`),
          'invoice.*': async (e) => void ran.push(`invoice.*:${e.id}`),
          'invoice.payment.*': async (e) => void ran.push(`invoice.payment.*:${e.id}`),
          '*': async (e) => void ran.push(`*:${e.id}`),
        },
      }),
    );
    const types = {
      a: 'invoice.paid',
      b: 'invoice.voided',
      c: 'invoice.payment.failed',
      d: 'customer.created',
      e: 'invoice',
    };
    for (const [id, type] of Object.entries(types)) await inbox.ingest('routing', { id, payload: { type } });
    await worker.drain();
    expect(ran.sort()).toEqual(['*:d', '*:e', 'exact:a', 'invoice.*:b', 'invoice.payment.*:c']);
    expect((await inbox.counts({ source: 'routing' })).processed).toBe(5);
  });

  it('looks handlers up by their own keys: types named like Object.prototype members reach *, not the prototype', async () => {
    const { inbox } = await open({});
    const ran: string[] = [];
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'proto',
        sweepIntervalMs: false,
        on: { '*': async (e) => void ran.push(e.type) },
      }),
    );
    const types = ['constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__'];
    for (const type of types) await inbox.ingest('proto', { id: type, payload: { type } });
    await worker.drain();
    expect(ran.sort()).toEqual([...types].sort());
    expect(await inbox.counts({ source: 'proto' })).toMatchObject({ processed: 5, failed: 0, dead: 0 });
  });

  it('dead-letters a permanent failure at once with its reason, and a payload that fails its schema', async () => {
    const { inbox } = await open({});
    let runs = 0;
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'permanent',
        sweepIntervalMs: false,
        onError: () => {},
        retry: { maxAttempts: 5 },
        schemas: { 'order.created': z.object({ orderId: z.string(), cents: z.number().int() }) },
        on: {
          'order.created': async (event) => {
            runs++;
            expect(event.payload.cents + 1).toBe(501); // typed by the schema, no cast
          },
          'order.refunded': async () => {
            throw permanentFailure('the order does not exist');
          },
        },
      }),
    );
    await inbox.ingest('permanent', { id: 'bad', payload: { type: 'order.created', orderId: 'o_1', cents: 'five' } });
    await inbox.ingest('permanent', { id: 'good', payload: { type: 'order.created', orderId: 'o_2', cents: 500 } });
    await inbox.ingest('permanent', { id: 'gone', payload: { type: 'order.refunded' } });
    await worker.drain();
    expect(await inbox.get('permanent', 'bad')).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastError: expect.stringContaining('does not match its schema'),
    });
    expect(await inbox.get('permanent', 'gone')).toMatchObject({
      status: 'dead',
      attempts: 1,
      lastError: 'InboxError: [@ballast/core] [handler] the order does not exist',
    });
    expect(await inbox.get('permanent', 'good')).toMatchObject({ status: 'processed' });
    expect(runs).toBe(1);
  });

  it('does not spend an attempt when another run holds the event’s idempotency key (in_progress)', async () => {
    const clock = manualClock();
    const { inbox } = await open({ clock: clock.now });
    const store = inbox.idempotencyStore;
    if (!store) throw new Error('expected a store');
    let fail = true;
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'held',
        sweepIntervalMs: false,
        onError: () => {},
        random: () => 0,
        retry: { maxAttempts: 2, initialDelayMs: 1000, jitter: 0 },
        on: {
          '*': async () => {
            if (fail) {
              fail = false;
              throw new Error('first real failure');
            }
          },
        },
      }),
    );
    // another run (say, a process whose inbox lease ran out a moment early) holds the key
    const key = 'inbox:held:held';
    const t0 = clock.now();
    const hold = {
      key,
      token: 'other-run',
      fingerprint: null,
      now: t0,
      leaseUntil: t0 + 10_000,
      expiresAt: t0 + 3_600_000,
    };
    expect((await store.claim(hold)).claimed).toBe(true);
    await inbox.ingest('held', { id: 'held', payload: { type: 't' } });
    for (let round = 0; round < 3; round++) {
      await worker.drain();
      const event = await inbox.get('held', 'held');
      expect(event).toMatchObject({
        attempts: 0,
        lastError: expect.stringContaining('being processed by another call'),
      });
      // the holder is alive: its heartbeat extends its lease
      await store.extend({
        key,
        token: 'other-run',
        now: clock.now(),
        leaseUntil: clock.now() + 20_000,
        expiresAt: clock.now() + 3_600_000,
      });
      clock.advance((event?.nextAttemptAt?.getTime() ?? 0) - clock.now());
    }
    await store.release({ key, token: 'other-run' });
    clock.advance(20_000);
    await worker.drain(); // the first attempt that really ran: it fails, one attempt of two spent
    expect(await inbox.get('held', 'held')).toMatchObject({ status: 'failed', attempts: 1 });
    clock.advance(1000);
    await worker.drain();
    expect(await inbox.get('held', 'held')).toMatchObject({ status: 'processed', attempts: 2 });
  });
}

describe('inbox worker on memory', () => {
  workerContract(async (options) => ({ inbox: memoryInbox(options) }));

  it('drives retries through the queue and the sweep on timers', async () => {
    // setImmediate stays real: group commit flushes on it, after the I/O of the turn
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const inbox = memoryInbox();
      const attempts: number[] = [];
      const worker = track(
        createInboxWorker({
          inbox,
          source: 'acme',
          random: () => 1,
          retry: { maxAttempts: 3, initialDelayMs: 10_000, jitter: 0.5 },
          on: {
            '*': async (_event, ctx) => {
              attempts.push(ctx.attempt);
              throw new Error('nope');
            },
          },
        }),
      );
      await worker.start();
      await inbox.ingest('acme', { id: 'e', payload: { type: 't' } });
      await vi.advanceTimersByTimeAsync(0);
      expect(attempts).toEqual([1]);
      await vi.advanceTimersByTimeAsync(9_999);
      expect(attempts).toEqual([1]);
      await vi.advanceTimersByTimeAsync(1);
      expect(attempts).toEqual([1, 2]);
      await vi.advanceTimersByTimeAsync(20_000);
      expect(attempts).toEqual([1, 2, 3]);
      expect(await inbox.get('acme', 'e')).toMatchObject({ status: 'dead', attempts: 3 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps the lease of a long handler alive, so nobody takes it over while it runs', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const inbox = memoryInbox();
      let finish: () => void = () => {};
      const runs: string[] = [];
      const slow = track(
        createInboxWorker({
          inbox,
          source: 'acme',
          sweepIntervalMs: false,
          leaseMs: 3000,
          on: {
            '*': () =>
              new Promise<void>((resolve) => {
                runs.push('slow');
                finish = resolve;
              }),
          },
        }),
      );
      const other = track(
        createInboxWorker({
          inbox,
          source: 'acme',
          sweepIntervalMs: false,
          leaseMs: 3000,
          on: { '*': async () => void runs.push('other') },
        }),
      );
      await inbox.ingest('acme', { id: 'long', payload: { type: 't' } });
      const done = slow.drain();
      await vi.waitFor(() => expect(runs).toEqual(['slow']));
      for (let t = 0; t < 4; t++) {
        await vi.advanceTimersByTimeAsync(2500); // 10 s in all: three times the lease
        await other.drain();
      }
      expect(runs).toEqual(['slow']);
      expect((await inbox.get('acme', 'long'))?.leaseUntil?.getTime()).toBeGreaterThan(Date.now());
      finish();
      await done;
      expect(await inbox.get('acme', 'long')).toMatchObject({ status: 'processed', attempts: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps trying to start while its store is down, sweeping meanwhile, and reports each cause once by default', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const logged: unknown[][] = [];
    const log = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
    try {
      const inbox = memoryInbox();
      let down = true;
      const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      const claim = inbox.driver.claim.bind(inbox.driver);
      const flaky: Inbox = {
        ...inbox,
        driver: { ...inbox.driver, claim: async (request) => (down ? Promise.reject(refused()) : claim(request)) },
      };
      const real = inProcessQueue();
      const queue: InboxQueue = {
        send: (topic, jobs, options) => real.send(topic, jobs, options),
        work: async (topic, handler, options) => {
          if (down) throw new Error('queue store unreachable');
          return real.work(topic, handler, options);
        },
      };
      const seen: string[] = [];
      const worker = track(
        createInboxWorker({ inbox: flaky, source: 'acme', queue, on: { '*': async (e) => void seen.push(e.id) } }),
      );
      let startedUp = false;
      void worker.start().then(() => {
        startedUp = true;
      });
      // stored meanwhile, e.g. by an ingest-only endpoint in another process
      await inbox.ingest('acme', { id: 'meanwhile', payload: { type: 't' } });
      await vi.advanceTimersByTimeAsync(20_000); // about 20 sweeps and 5 start attempts fail
      expect(seen).toEqual([]);
      expect(startedUp).toBe(false);
      down = false;
      await vi.advanceTimersByTimeAsync(20_000);
      expect(startedUp).toBe(true);
      expect(seen).toEqual(['meanwhile']);
      expect(await inbox.get('acme', 'meanwhile')).toMatchObject({ status: 'processed' });
      // each distinct cause once, though each repeated many times
      const lines = logged.map((args) => String(args[1]));
      expect(lines.sort()).toEqual(['Error: connect ECONNREFUSED 127.0.0.1:5432', 'Error: queue store unreachable']);
      expect(String(logged[0]?.[0])).toContain('[@ballast/core] [inbox worker acme]');
    } finally {
      log.mockRestore();
      vi.useRealTimers();
    }
  });

  it('fails an attempt whose handler hangs past handlerTimeoutMs, aborting its signal, and retries it', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const inbox = memoryInbox();
      const signals: AbortSignal[] = [];
      const errors: unknown[] = [];
      const worker = track(
        createInboxWorker({
          inbox,
          source: 'acme',
          sweepIntervalMs: false,
          leaseMs: 3000,
          handlerTimeoutMs: 10_000,
          random: () => 1,
          retry: { maxAttempts: 2, initialDelayMs: 1000 },
          onError: (error) => errors.push(error),
          on: {
            '*': (_event, ctx) => {
              signals.push(ctx.signal);
              return new Promise<void>(() => {}); // never settles
            },
          },
        }),
      );
      await inbox.ingest('acme', { id: 'stuck', payload: { type: 't' } });
      const first = worker.drain();
      await vi.waitFor(() => expect(signals).toHaveLength(1));
      await vi.advanceTimersByTimeAsync(9_000); // vi.waitFor moves fake time a little too
      // the heartbeat kept the lease alive until now
      expect(await inbox.get('acme', 'stuck')).toMatchObject({ status: 'processing', attempts: 1 });
      expect(signals[0]?.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1000);
      await first;
      expect(signals[0]?.aborted).toBe(true);
      expect(isInboxError(signals[0]?.reason) && signals[0]?.reason.code).toBe('handler_timeout');
      expect(errors.some((e) => isInboxError(e) && e.code === 'handler_timeout')).toBe(true);
      expect(await inbox.get('acme', 'stuck')).toMatchObject({
        status: 'failed',
        attempts: 1,
        lastError: expect.stringContaining('did not finish within 10000 ms'),
      });
      await vi.advanceTimersByTimeAsync(1000);
      const second = worker.drain();
      await vi.waitFor(() => expect(signals).toHaveLength(2));
      await vi.advanceTimersByTimeAsync(10_000);
      await second;
      expect(await inbox.get('acme', 'stuck')).toMatchObject({ status: 'dead', attempts: 2 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('lets a heartbeat in flight finish before settling, so it never reports a lease it did not lose', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const inbox = memoryInbox();
      let openGate: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        openGate = resolve;
      });
      let beats = 0;
      const extend = inbox.driver.extend.bind(inbox.driver);
      const slowBeats: Inbox = {
        ...inbox,
        driver: {
          ...inbox.driver,
          extend: async (...args) => {
            beats++;
            await gate;
            return extend(...args);
          },
        },
      };
      let finish: () => void = () => {};
      const errors: unknown[] = [];
      const worker = track(
        createInboxWorker({
          inbox: slowBeats,
          source: 'acme',
          sweepIntervalMs: false,
          leaseMs: 3000,
          onError: (error) => errors.push(error),
          on: {
            '*': () =>
              new Promise<void>((resolve) => {
                finish = resolve;
              }),
          },
        }),
      );
      await inbox.ingest('acme', { id: 'beat', payload: { type: 't' } });
      const done = worker.drain();
      await vi.advanceTimersByTimeAsync(1000); // the first beat starts and waits at the gate
      expect(beats).toBe(1);
      finish();
      await vi.advanceTimersByTimeAsync(0);
      openGate();
      await done;
      expect(errors).toEqual([]);
      expect(await inbox.get('acme', 'beat')).toMatchObject({ status: 'processed', attempts: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('runs handlers without a time limit when handlerTimeoutMs is false', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const inbox = memoryInbox();
      let finish: () => void = () => {};
      let signal: AbortSignal | undefined;
      const worker = track(
        createInboxWorker({
          inbox,
          source: 'acme',
          sweepIntervalMs: false,
          handlerTimeoutMs: false,
          on: {
            '*': (_event, ctx) =>
              new Promise<void>((resolve) => {
                signal = ctx.signal;
                finish = resolve;
              }),
          },
        }),
      );
      await inbox.ingest('acme', { id: 'slow', payload: { type: 't' } });
      const done = worker.drain();
      await vi.waitFor(() => expect(signal).toBeDefined());
      await vi.advanceTimersByTimeAsync(3_600_000);
      expect(signal?.aborted).toBe(false);
      finish();
      await done;
      expect(await inbox.get('acme', 'slow')).toMatchObject({ status: 'processed', attempts: 1 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('stop() waits for the events a running sweep is claiming, and runs their handlers before it resolves', async () => {
    const inbox = memoryInbox();
    await inbox.ingest('acme', { id: 'late', payload: { type: 't' } });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const claim = inbox.driver.claim.bind(inbox.driver);
    let sweepClaims = 0;
    const slowInbox: Inbox = {
      ...inbox,
      driver: {
        ...inbox.driver,
        claim: async (request) => {
          if (request.id === undefined) {
            sweepClaims++;
            await gate;
          }
          return claim(request);
        },
      },
    };
    const handled: string[] = [];
    const idle: InboxQueue = { send: async () => {}, work: async () => ({ stop: async () => {} }) };
    const worker = createInboxWorker({
      inbox: slowInbox,
      source: 'acme',
      queue: idle,
      on: { '*': async (event) => void handled.push(event.id) },
    });
    await worker.start();
    await vi.waitFor(() => expect(sweepClaims).toBe(1));
    const stopped = worker.stop();
    release();
    await stopped;
    expect(handled).toEqual(['late']);
    expect(await inbox.get('acme', 'late')).toMatchObject({ status: 'processed' });
  });

  it('reports typed metrics: attempt outcomes with their number and duration, processing lag, claim sizes', async () => {
    const clock = manualClock();
    const inbox = memoryInbox({ clock: clock.now });
    const metrics: InboxMetric[] = [];
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'metered',
        sweepIntervalMs: false,
        onError: () => {},
        retry: { maxAttempts: 2, initialDelayMs: 1000, jitter: 0 },
        onMetric: (m) => metrics.push(m),
        on: {
          ok: async () => clock.advance(25),
          bad: async () => {
            throw new Error('no');
          },
        },
      }),
    );
    await inbox.ingest('metered', { id: 'a', payload: { type: 'ok' } });
    await inbox.ingest('metered', { id: 'b', payload: { type: 'bad' } });
    await inbox.ingest('metered', { id: 'c', payload: { type: 'nobody' } });
    clock.advance(100); // received 100 ms before processing starts
    await worker.drain();
    clock.advance(1000);
    await worker.drain();
    const attempts = metrics.filter((m) => m.name === 'inbox.attempt');
    expect(attempts.map((m) => m.name === 'inbox.attempt' && [m.type, m.outcome, m.attempt]).sort()).toEqual([
      ['bad', 'dead', 2],
      ['bad', 'failed', 1],
      ['nobody', 'dead', 1],
      ['ok', 'processed', 1],
    ]);
    expect(metrics).toContainEqual({
      name: 'inbox.attempt',
      source: 'metered',
      type: 'ok',
      outcome: 'processed',
      attempt: 1,
      durationMs: 25,
    });
    expect(metrics.filter((m) => m.name === 'inbox.lag')).toEqual([
      { name: 'inbox.lag', source: 'metered', type: 'ok', lagMs: 125 },
    ]);
    expect(metrics.filter((m) => m.name === 'inbox.claim').map((m) => m.name === 'inbox.claim' && m.size)).toEqual([
      3, 1,
    ]);
  });

  it('rejects bad options with invalid_options', () => {
    const inbox = memoryInbox();
    const bad = [
      { inbox, source: '', on: {} },
      { inbox, source: 'a', on: { x: 'nope' } },
      { inbox: {}, source: 'a', on: {} },
      { inbox, source: 'a', on: {}, concurrency: 0 },
      { inbox, source: 'a', on: {}, leaseMs: -1 },
      { inbox, source: 'a', on: {}, retry: { maxAttempts: 1.5 } },
      { inbox, source: 'a', on: {}, retry: { jitter: 2 } },
      { inbox, source: 'a', on: {}, sweepIntervalMs: 0 },
      { inbox, source: 'a', on: {}, heartbeat: 'yes' },
      { inbox, source: 'a', on: {}, handlerTimeoutMs: 0 },
      { inbox: createInbox(memoryInboxDriver()), source: 'a', on: {}, idempotency: { transactional: true } },
      { inbox, source: 'a', on: {}, idempotency: { transactional: true } },
      { inbox, source: 'a', on: {}, handlerTimeoutMs: Number.NaN },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        createInboxWorker(options as never);
      } catch (e) {
        error = e;
      }
      expect(
        isInboxError(error) && error.code,
        JSON.stringify(options, (k, v) => (k === 'inbox' ? undefined : v)),
      ).toBe('invalid_options');
    }
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, is capped, and jitters within its share', () => {
    const retry = normalizeRetry({ initialDelayMs: 100, factor: 3, maxDelayMs: 1000, jitter: 0.2 });
    expect([1, 2, 3, 4].map((a) => backoffDelay(retry, a, () => 1))).toEqual([100, 300, 900, 1000]);
    expect(backoffDelay(retry, 2, () => 0)).toBe(240);
    const full = normalizeRetry({ jitter: 1 });
    expect(backoffDelay(full, 1, () => 0)).toBe(0);
  });
});

function sqlWorkerSuite(openDb: () => Promise<TestDatabase>) {
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

  workerContract(async (options) => ({ inbox: sqlInbox(db, { ...options, schema }), db }));

  it('commits a transactional handler’s writes with its run, and applies only newer versions', async () => {
    const clock = manualClock();
    const inbox = sqlInbox(db, { schema, clock: clock.now });
    const table = `${schema}.customers`;
    await db.exec(`CREATE TABLE ${table} (id text PRIMARY KEY, email text NOT NULL)`);
    const guard = versionGuard({ store: sqlVersionStore(db, { schema }), scope: 'customer' });
    let failNext = true;
    const worker = track(
      createInboxWorker({
        inbox,
        source: 'crm',
        sweepIntervalMs: false,
        retry: { initialDelayMs: 1000, jitter: 0 },
        idempotency: { transactional: true },
        on: {
          'customer.updated': async (event, ctx) => {
            const p = event.payload as { id: string; email: string; version: number };
            const tx = ctx.tx;
            if (!tx) throw new Error('expected a transaction');
            if (!(await guard.apply(p.id, p.version, { tx }))) return;
            await tx.query(
              `INSERT INTO ${table} (id, email) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email`,
              [p.id, p.email],
            );
            if (failNext) {
              failNext = false;
              throw new Error('crash after the write'); // rolls the write back with the run
            }
          },
        },
      }),
    );
    const customer = (id: string, version: number, email: string) => ({
      id: `evt_${id}`,
      payload: { type: 'customer.updated', id: 'cus_1', email, version },
    });
    // delivered out of order: version 2 first, then version 1
    await inbox.ingest('crm', customer('b', 2, 'new@example.com'));
    await worker.drain(); // fails after writing: rolled back
    expect((await db.query(`SELECT email FROM ${table}`)).rows).toEqual([]);
    clock.advance(1000);
    await worker.drain(); // retried: applied
    await inbox.ingest('crm', customer('a', 1, 'old@example.com'));
    await worker.drain(); // older: skipped by the guard
    expect((await db.query(`SELECT email FROM ${table}`)).rows).toEqual([{ email: 'new@example.com' }]);
    expect((await inbox.counts({ source: 'crm' })).processed).toBe(2);
  });
}

describe('inbox worker on PGlite', () => {
  sqlWorkerSuite(pgliteDatabase);
});

describeWithPostgres('inbox worker', (url) => {
  sqlWorkerSuite(() => postgresDatabase(url, 'inboxw', 8));
});

describeWithPostgres('inbox worker on postgres.js', (url) => {
  sqlWorkerSuite(() => postgresDatabase(url, 'inboxwjs', 8, 'postgres.js'));
});

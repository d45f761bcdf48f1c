import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { batch } from './batch';
import { isRateLimitError, type RateLimitError } from './errors';
import { rateLimiter } from './local';

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 27, 12, 0, 0) });
});
afterEach(() => {
  vi.useRealTimers();
});

const double = async (chunk: number[]) => chunk.map((n) => n * 2);

describe('batch', () => {
  it('runs chunks of `size` and returns the results in input order, whatever order chunks finish in', async () => {
    const seen: number[][] = [];
    const run = batch(
      [1, 2, 3, 4, 5, 6, 7],
      async (chunk, { chunk: index }) => {
        seen.push(chunk);
        // later chunks finish first
        await new Promise((resolve) => setTimeout(resolve, 100 - index * 10));
        return chunk.map((n) => n * 10);
      },
      { size: 3, concurrency: 3 },
    );
    await vi.runAllTimersAsync();
    const report = await run;
    expect(seen).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(report.ok).toBe(true);
    expect(report.outcomes.map((o) => (o.status === 'fulfilled' ? o.value : null))).toEqual([
      10, 20, 30, 40, 50, 60, 70,
    ]);
    expect(report.failures).toEqual([]);
  });

  it('keeps at most `concurrency` chunks in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const run = batch(
      Array.from({ length: 20 }, (_, i) => i),
      async (chunk) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight--;
        return chunk;
      },
      { size: 2, concurrency: 3 },
    );
    await vi.runAllTimersAsync();
    expect((await run).ok).toBe(true);
    expect(peak).toBe(3);
  });

  it('reports every failed item with its error and index, and still runs the rest', async () => {
    const boom = new Error('provider said no');
    const report = await batch(
      ['a', 'b', 'c', 'd', 'e'],
      async (chunk) => {
        if (chunk.includes('c')) throw boom;
        return chunk.map((s) => s.toUpperCase());
      },
      { size: 2 },
    );
    expect(report.ok).toBe(false);
    expect(report.outcomes).toEqual([
      { status: 'fulfilled', value: 'A' },
      { status: 'fulfilled', value: 'B' },
      { status: 'rejected', reason: boom },
      { status: 'rejected', reason: boom },
      { status: 'fulfilled', value: 'E' },
    ]);
    expect(report.failures).toEqual([
      { index: 2, item: 'c', status: 'rejected', reason: boom },
      { index: 3, item: 'd', status: 'rejected', reason: boom },
    ]);
  });

  it('fails a chunk whose result count does not match its items, with invalid_result', async () => {
    const report = await batch([1, 2, 3], async (chunk) => chunk.slice(1), { size: 3 });
    const failure = report.failures[0]?.reason as RateLimitError;
    expect(report.failures).toHaveLength(3);
    expect(isRateLimitError(failure)).toBe(true);
    expect(failure.code).toBe('invalid_result');
  });

  it('stopOnError: starts no chunk after a failure and reports the rest as skipped with that error', async () => {
    const boom = new Error('stop');
    const calls: number[] = [];
    const report = await batch(
      [1, 2, 3, 4],
      async (chunk) => {
        calls.push(chunk[0] as number);
        if (chunk[0] === 2) throw boom;
        return chunk;
      },
      { concurrency: 1, stopOnError: true },
    );
    expect(calls).toEqual([1, 2]);
    expect(report.outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'skipped', 'skipped']);
    expect(report.failures.map((f) => [f.index, f.status, f.reason])).toEqual([
      [1, 'rejected', boom],
      [2, 'skipped', boom],
      [3, 'skipped', boom],
    ]);
  });

  it('an aborted batch starts no more chunks and reports the unstarted items as skipped', async () => {
    const controller = new AbortController();
    const report = await batch(
      [1, 2, 3, 4],
      async (chunk) => {
        if (chunk[0] === 2) controller.abort(new Error('shutting down'));
        return chunk;
      },
      { concurrency: 1, signal: controller.signal },
    );
    expect(report.outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'skipped', 'skipped']);
    const reason = report.failures[0]?.reason as RateLimitError;
    expect(reason.code).toBe('aborted');
    expect((reason.cause as Error).message).toBe('shutting down');
  });

  it('reports progress after each chunk, and survives a throwing callback', async () => {
    const progress: Array<[number, number, number]> = [];
    const report = await batch(
      [1, 2, 3, 4, 5],
      async (chunk) => (chunk[0] === 3 ? Promise.reject(new Error('x')) : chunk),
      {
        size: 2,
        concurrency: 1,
        onProgress: ({ done, total, failed }) => {
          progress.push([done, total, failed]);
          throw new Error('bad logger');
        },
      },
    );
    expect(progress).toEqual([
      [2, 5, 0],
      [4, 5, 2],
      [5, 5, 2],
    ]);
    expect(report.failures.map((f) => f.index)).toEqual([2, 3]);
  });

  it('runs each chunk through the limiter, with its key and weight', async () => {
    const limiter = rateLimiter({ limit: 4, interval: 1000 });
    const t0 = Date.now();
    const starts: number[] = [];
    const run = batch(
      Array.from({ length: 6 }, (_, i) => i),
      async (chunk) => {
        starts.push(Date.now() - t0);
        return chunk;
      },
      { size: 2, concurrency: 3, limiter, key: 'bulk', weight: (chunk) => chunk.length },
    );
    await vi.advanceTimersByTimeAsync(1000);
    const report = await run;
    expect(report.ok).toBe(true);
    // weight 2 per chunk, 4 per second: two chunks now, the third a second later
    expect(starts).toEqual([0, 0, 1000]);
    expect(limiter.stats('bulk')?.used).toBe(2);
  });

  it('handles no items, and any iterable', async () => {
    expect(await batch([], double)).toEqual({ outcomes: [], failures: [], ok: true });
    const report = await batch(new Set([1, 2]), double, { size: 5 });
    expect(report.outcomes).toEqual([
      { status: 'fulfilled', value: 2 },
      { status: 'fulfilled', value: 4 },
    ]);
  });

  it.each([
    [null, double, {}, 'items'],
    [42, double, {}, 'items'],
    [[1], 'fn', {}, 'fn'],
    [[1], double, { size: 0 }, 'size'],
    [[1], double, { size: 1.5 }, 'size'],
    [[1], double, { concurrency: -1 }, 'concurrency'],
    [[1], double, { limiter: {} }, 'limiter'],
    [[1], double, { key: '' }, 'key'],
    [[1], double, { weight: 0 }, 'weight'],
    [[1], double, { onProgress: 'log' }, 'onProgress'],
    [[1], double, { signal: 'stop' }, 'signal'],
    [[1], double, { stopOnError: 1 }, 'stopOnError'],
  ])('rejects bad arguments (%j, %s, %j) with a typed error', async (items, fn, options, mention) => {
    const error = await batch(items as never, fn as never, options as never).catch((e: unknown) => e);
    expect(isRateLimitError(error)).toBe(true);
    expect(['invalid_argument', 'invalid_options']).toContain((error as RateLimitError).code);
    expect((error as RateLimitError).message).toContain(mention);
  });
});

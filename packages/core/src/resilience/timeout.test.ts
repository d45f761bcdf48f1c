import { describe, expect, it, vi } from 'vitest';
import type { ResilienceError } from './errors';
import { settle } from './test-support';
import { timeout } from './timeout';

describe('timeout', () => {
  it('rejects with a timeout error when the limit fires first, and passes results through', async () => {
    vi.useFakeTimers();
    const before = vi.getTimerCount();
    const t = timeout(100);
    const slow = settle(
      t.execute((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))),
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(((await slow).error as ResilienceError).code).toBe('timeout');
    expect(await t.execute(async () => 'fast')).toBe('fast');
    expect(vi.getTimerCount()).toBe(before); // no timer left behind
  });

  it('aborts with the caller’s reason when the caller aborts', async () => {
    const t = timeout(10_000);
    const controller = new AbortController();
    const pending = settle(
      t.execute((signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), {
        signal: controller.signal,
      }),
    );
    controller.abort(new Error('stop'));
    expect(((await pending).error as Error).message).toBe('stop');
  });

  it('rejects a bad limit', () => {
    expect(() => timeout(0)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => timeout(Number.NaN)).toThrow(/ms/);
  });
});

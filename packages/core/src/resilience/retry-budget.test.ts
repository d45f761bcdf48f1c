import { describe, expect, it, vi } from 'vitest';
import { retryBudget } from './retry-budget';

describe('retryBudget', () => {
  it('starts full, spends one token per retry, and refuses when empty', () => {
    const b = retryBudget({ maxTokens: 3, minPerSecond: 0 });
    expect([b.withdraw('h'), b.withdraw('h'), b.withdraw('h'), b.withdraw('h')]).toEqual([true, true, true, false]);
  });

  it('earns `ratio` tokens per first attempt, capped at maxTokens', () => {
    const b = retryBudget({ maxTokens: 2, minPerSecond: 0, ratio: 0.5 });
    b.withdraw('h');
    b.withdraw('h');
    expect(b.withdraw('h')).toBe(false);
    b.deposit('h');
    expect(b.withdraw('h')).toBe(false); // 0.5 tokens
    b.deposit('h');
    expect(b.withdraw('h')).toBe(true);
    for (let i = 0; i < 100; i++) b.deposit('h');
    expect(b.tokens('h')).toBe(2);
  });

  it('refills minPerSecond over time, without timers', () => {
    vi.useFakeTimers();
    try {
      const b = retryBudget({ maxTokens: 5, minPerSecond: 2, ratio: 0 });
      for (let i = 0; i < 5; i++) b.withdraw('h');
      expect(b.withdraw('h')).toBe(false);
      vi.advanceTimersByTime(500);
      expect(b.withdraw('h')).toBe(true);
      expect(b.withdraw('h')).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps keys apart, and forgets the least recently used beyond maxKeys', () => {
    const b = retryBudget({ maxTokens: 1, minPerSecond: 0, maxKeys: 2 });
    expect(b.withdraw('a')).toBe(true);
    expect(b.withdraw('b')).toBe(true);
    expect(b.withdraw('a')).toBe(false);
    b.withdraw('c'); // evicts the oldest key
    expect(b.tokens('a') + b.tokens('b')).toBeGreaterThanOrEqual(1); // one of them came back full
  });

  it.each([
    [{ ratio: -1 }, 'ratio'],
    [{ minPerSecond: Number.NaN }, 'minPerSecond'],
    [{ maxTokens: 0 }, 'maxTokens'],
    [{ maxKeys: 0 }, 'maxKeys'],
  ])('rejects %j with invalid_options', (options, field) => {
    expect(() => retryBudget(options)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
    expect(() => retryBudget(options)).toThrow(new RegExp(field));
  });
});

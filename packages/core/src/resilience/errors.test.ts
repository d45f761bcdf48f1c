import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors';
import { isResilienceError, ResilienceError } from './errors';

describe('ResilienceError', () => {
  it('carries its code, context, a scoped message and the cause', () => {
    const cause = new Error('socket hang up');
    const response = new Response(null, { status: 503 });
    const e = new ResilienceError('retry', 'retry_budget_exhausted', 'the budget is empty', {
      key: 'api.test',
      waitMs: 1_200,
      attempts: 2,
      response,
      cause,
    });
    expect(e.name).toBe('ResilienceError');
    expect(e.code).toBe('retry_budget_exhausted');
    expect(e.message).toBe('[@ballast/core] [retry] the budget is empty');
    expect([e.key, e.waitMs, e.attempts, e.response, e.cause]).toEqual(['api.test', 1_200, 2, response, cause]);
    expect(isBallastError(e)).toBe(true);
    expect(isResilienceError(e)).toBe(true);
  });

  it('leaves absent context undefined', () => {
    const e = new ResilienceError('retry', 'retry_budget_exhausted', 'the budget is empty');
    expect([e.key, e.waitMs, e.attempts, e.response, e.cause]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('is recognized across realms, and other errors are not', () => {
    const brand = Symbol.for('@ballast/error');
    const foreign = runInNewContext('const e = new Error("x"); e.name = "ResilienceError"; e[brand] = true; e', {
      brand,
    });
    expect(isResilienceError(foreign)).toBe(true);
    expect(isResilienceError(new Error('plain'))).toBe(false);
    expect(isResilienceError({ name: 'ResilienceError' })).toBe(false);
  });
});

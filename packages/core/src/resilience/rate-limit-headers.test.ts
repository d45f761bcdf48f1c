import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mayReportSpentBudget,
  parseRetryAfter,
  readRateLimitHeaders,
  resetToMs,
  serverWaitMs,
} from './rate-limit-headers';

const NOW = Date.UTC(2026, 10, 27, 12, 0, 0);
const read = (headers: Record<string, string>) => readRateLimitHeaders(new Headers(headers), NOW);

describe('readRateLimitHeaders', () => {
  it('reads the X-RateLimit trio with a seconds-until-reset value (Pipedrive style)', () => {
    expect(read({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': '2' })).toEqual({
      limit: 20,
      remaining: 7,
      resetMs: 2000,
    });
  });

  it('tells unix epoch seconds and epoch milliseconds apart from a delta', () => {
    expect(read({ 'x-ratelimit-reset': String(NOW / 1000 + 30) }).resetMs).toBe(30_000);
    expect(read({ 'x-ratelimit-reset': String(NOW + 1500) }).resetMs).toBe(1500);
    expect(read({ 'x-ratelimit-reset': '0.5' }).resetMs).toBe(500);
    // a reset already in the past means "now"
    expect(read({ 'x-ratelimit-reset': String(NOW / 1000 - 30) }).resetMs).toBe(0);
  });

  it('reads the IETF draft-07 dictionary with its policy window', () => {
    expect(
      read({ RateLimit: 'limit=100, remaining=40, reset=12', 'RateLimit-Policy': '100;w=60, 1000;w=3600' }),
    ).toEqual({
      limit: 100,
      remaining: 40,
      resetMs: 12_000,
      windowMs: 60_000,
    });
  });

  it('reads the IETF draft-08+ list, binding to the policy with the least left', () => {
    expect(
      read({
        RateLimit: '"hour";r=900;t=1800, "burst";r=3;t=4',
        'RateLimit-Policy': '"burst";q=10;w=5, "hour";q=1000;w=3600',
      }),
    ).toEqual({ limit: 10, remaining: 3, resetMs: 4000, windowMs: 5000 });
  });

  it('reads the separate RateLimit-Limit / -Remaining / -Reset fields of early drafts', () => {
    expect(read({ 'RateLimit-Limit': '50', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '9' })).toEqual({
      limit: 50,
      remaining: 0,
      resetMs: 9000,
    });
  });

  it('prefers IETF fields over X-RateLimit ones', () => {
    expect(read({ 'x-ratelimit-remaining': '5', 'ratelimit-remaining': '2' }).remaining).toBe(2);
  });

  it('reads Retry-After as seconds or HTTP-date, and retry-after-ms', () => {
    expect(read({ 'retry-after': '120' }).retryAfterMs).toBe(120_000);
    expect(read({ 'retry-after': new Date(NOW + 45_000).toUTCString() }).retryAfterMs).toBe(45_000);
    expect(read({ 'retry-after-ms': '250', 'retry-after': '9' }).retryAfterMs).toBe(250);
  });

  it('ignores values it cannot read instead of throwing', () => {
    expect(
      read({
        'x-ratelimit-limit': 'lots',
        'x-ratelimit-remaining': '-1',
        'x-ratelimit-reset': 'soon',
        'retry-after': 'whenever',
        RateLimit: '"x";r=abc',
        'RateLimit-Policy': ';;;,',
      }),
    ).toEqual({});
  });
});

describe('one reading for the limiter and the retry layer', () => {
  it('a Retry-After that is neither seconds nor a date is ignored by both ("-3" is not year -3)', () => {
    expect(read({ 'retry-after': '-3' }).retryAfterMs).toBeUndefined();
    expect(serverWaitMs({ status: 429, headers: new Headers({ 'retry-after': '-3' }) }, NOW)).toBeUndefined();
  });

  it('both read headers objects of other fetch implementations, whose get may answer undefined', () => {
    const foreign = new Map([['retry-after', '2']]);
    expect(readRateLimitHeaders(foreign as unknown as Headers, NOW)).toEqual({ retryAfterMs: 2000 });
    expect(serverWaitMs({ status: 429, headers: foreign as unknown as Headers }, NOW)).toBe(2000);
  });

  it('with several exhausted IETF policies, both take the one that resets last', () => {
    const headers = { RateLimit: '"minute";r=0;t=20, "hour";r=500;t=3000, "burst";r=0;t=2' };
    expect(read(headers)).toMatchObject({ remaining: 0, resetMs: 20_000 });
    expect(serverWaitMs({ status: 429, headers: new Headers(headers) }, NOW)).toBe(20_000);
  });

  it('serverWaitMs waits for the binding IETF policy, not the first one listed', () => {
    const headers = new Headers({ RateLimit: '"hour";r=900;t=1800, "burst";r=0;t=4' });
    expect(serverWaitMs({ status: 429, headers }, NOW)).toBe(4000);
  });

  it('where the limiter takes the more precise value, serverWaitMs takes the longer one', () => {
    const headers = { 'retry-after': '9', 'retry-after-ms': '250', 'x-ratelimit-reset': '30', 'ratelimit-reset': '5' };
    expect(read(headers)).toMatchObject({ retryAfterMs: 250, resetMs: 5000 });
    expect(serverWaitMs({ status: 429, headers: new Headers(headers) }, NOW)).toBe(30_000);
  });

  it('serverWaitMs reads an epoch reset in the IETF draft-07 dictionary', () => {
    const headers = new Headers({ RateLimit: `limit=10, remaining=0, reset=${NOW / 1000 + 8}` });
    expect(serverWaitMs({ status: 503, headers }, NOW)).toBe(8000);
  });
});

describe('mayReportSpentBudget', () => {
  it('is false for responses without rate-limit headers or with budget left, true for a spent one', () => {
    expect(mayReportSpentBudget(new Headers({ 'content-type': 'application/json' }))).toBe(false);
    expect(mayReportSpentBudget(new Headers({ 'x-ratelimit-remaining': '7', 'x-ratelimit-reset': '2' }))).toBe(false);
    expect(mayReportSpentBudget(new Headers({ RateLimit: '"default";r=12;t=3' }))).toBe(false);
    expect(mayReportSpentBudget(new Headers({ 'x-ratelimit-remaining': '0' }))).toBe(true);
    expect(mayReportSpentBudget(new Headers({ 'RateLimit-Remaining': '0.0' }))).toBe(true);
    expect(mayReportSpentBudget(new Headers({ RateLimit: 'limit=10, Remaining = 0, reset=1' }))).toBe(true);
    expect(mayReportSpentBudget(new Map() as unknown as Headers)).toBe(false);
  });

  it('is never false when the full reading finds nothing remaining', () => {
    const number = fc.oneof(
      fc.constantFrom('0', '00', '0.0', ' 0 ', '1', '0.5', '-1', 'x', ''),
      fc.nat(100).map(String),
    );
    const name = fc.constantFrom('"a"', '"b"', 'default');
    const ietfList = fc
      .array(fc.tuple(name, fc.constantFrom('r', 'R', ' r '), number, number), { minLength: 1, maxLength: 3 })
      .map((ms) => ms.map(([n, r, v, t]) => `${n};${r}=${v};t=${t}`).join(', '));
    const ietfDictionary = fc
      .tuple(number, number, fc.constantFrom('remaining', 'Remaining', 'remaining '))
      .map(([limit, remaining, key]) => `limit=${limit}, ${key}=${remaining}, reset=3`);
    const headers = fc.record(
      {
        'x-ratelimit-remaining': number,
        'ratelimit-remaining': number,
        ratelimit: fc.oneof(ietfList, ietfDictionary),
        'x-ratelimit-reset': number,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(headers, (h) => {
        const source = new Headers(h);
        if (readRateLimitHeaders(source, NOW).remaining === 0) expect(mayReportSpentBudget(source)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('helpers', () => {
  it('resetToMs and parseRetryAfter', () => {
    expect(resetToMs(3, NOW)).toBe(3000);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
  });
});

/** The serverWaitMs cases below date their HTTP-dates from this. */
const RETRY_NOW = Date.parse('2026-03-01T12:00:00Z');
const res = (status: number, headers: Record<string, string>) => ({ status, headers: new Headers(headers) });

describe('serverWaitMs', () => {
  it('reads Retry-After as seconds, fractional seconds, or an HTTP-date', () => {
    expect(serverWaitMs(res(503, { 'retry-after': '5' }), RETRY_NOW)).toBe(5_000);
    expect(serverWaitMs(res(503, { 'retry-after': '1.5' }), RETRY_NOW)).toBe(1_500);
    expect(serverWaitMs(res(503, { 'retry-after': 'Sun, 01 Mar 2026 12:00:42 GMT' }), RETRY_NOW)).toBe(42_000);
  });

  it('treats a past HTTP-date as no wait, and ignores garbage', () => {
    expect(serverWaitMs(res(503, { 'retry-after': 'Sun, 01 Mar 2026 11:00:00 GMT' }), RETRY_NOW)).toBe(0);
    expect(serverWaitMs(res(503, { 'retry-after': 'soon' }), RETRY_NOW)).toBeUndefined();
    expect(serverWaitMs(res(503, { 'retry-after': '-3' }), RETRY_NOW)).toBeUndefined();
    expect(parseRetryAfter(null, RETRY_NOW)).toBeUndefined();
  });

  it('reads retry-after-ms', () => {
    expect(serverWaitMs(res(429, { 'retry-after-ms': '250' }), RETRY_NOW)).toBe(250);
  });

  it('reads reset headers on a 429: delta seconds, epoch seconds, epoch milliseconds', () => {
    expect(serverWaitMs(res(429, { 'x-ratelimit-reset': '2' }), RETRY_NOW)).toBe(2_000);
    expect(serverWaitMs(res(429, { 'x-ratelimit-reset': String(RETRY_NOW / 1000 + 30) }), RETRY_NOW)).toBe(30_000);
    expect(serverWaitMs(res(429, { 'x-ratelimit-reset': String(RETRY_NOW + 700) }), RETRY_NOW)).toBe(700);
    expect(serverWaitMs(res(429, { 'ratelimit-reset': '9' }), RETRY_NOW)).toBe(9_000);
  });

  it('reads the IETF RateLimit field (t= in newer drafts, reset= in older ones)', () => {
    expect(serverWaitMs(res(429, { ratelimit: '"default";r=0;t=12' }), RETRY_NOW)).toBe(12_000);
    expect(serverWaitMs(res(429, { ratelimit: 'limit=100, remaining=0, reset=4' }), RETRY_NOW)).toBe(4_000);
  });

  it('reads reset headers on other statuses only when the budget is spent', () => {
    expect(serverWaitMs(res(503, { 'x-ratelimit-reset': '10' }), RETRY_NOW)).toBeUndefined();
    expect(
      serverWaitMs(res(503, { 'x-ratelimit-reset': '10', 'x-ratelimit-remaining': '3' }), RETRY_NOW),
    ).toBeUndefined();
    expect(serverWaitMs(res(503, { 'x-ratelimit-reset': '10', 'x-ratelimit-remaining': '0' }), RETRY_NOW)).toBe(10_000);
    expect(serverWaitMs(res(503, { ratelimit: '"default";r=0;t=3' }), RETRY_NOW)).toBe(3_000);
    expect(serverWaitMs(res(503, { ratelimit: '"default";r=10;t=3' }), RETRY_NOW)).toBeUndefined();
  });

  it('takes the longest of several hints, never less than any of them', () => {
    expect(
      serverWaitMs(res(429, { 'retry-after': '2', 'retry-after-ms': '2500', 'x-ratelimit-reset': '1' }), RETRY_NOW),
    ).toBe(2_500);
  });

  it('returns undefined when nothing asks for a wait', () => {
    expect(serverWaitMs(res(503, {}), RETRY_NOW)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { parseRetryAfter, readRateLimitHeaders, resetToMs } from './headers';

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

describe('helpers', () => {
  it('resetToMs and parseRetryAfter', () => {
    expect(resetToMs(3, NOW)).toBe(3000);
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
  });
});

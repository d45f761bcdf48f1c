import { describe, expect, it } from 'vitest';
import { parseRetryAfter, serverWaitMs } from './retry-after';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const res = (status: number, headers: Record<string, string>) => ({ status, headers: new Headers(headers) });

describe('serverWaitMs', () => {
  it('reads Retry-After as seconds, fractional seconds, or an HTTP-date', () => {
    expect(serverWaitMs(res(503, { 'retry-after': '5' }), NOW)).toBe(5_000);
    expect(serverWaitMs(res(503, { 'retry-after': '1.5' }), NOW)).toBe(1_500);
    expect(serverWaitMs(res(503, { 'retry-after': 'Sun, 01 Mar 2026 12:00:42 GMT' }), NOW)).toBe(42_000);
  });

  it('treats a past HTTP-date as no wait, and ignores garbage', () => {
    expect(serverWaitMs(res(503, { 'retry-after': 'Sun, 01 Mar 2026 11:00:00 GMT' }), NOW)).toBe(0);
    expect(serverWaitMs(res(503, { 'retry-after': 'soon' }), NOW)).toBeUndefined();
    expect(serverWaitMs(res(503, { 'retry-after': '-3' }), NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });

  it('reads retry-after-ms', () => {
    expect(serverWaitMs(res(429, { 'retry-after-ms': '250' }), NOW)).toBe(250);
  });

  it('reads reset headers on a 429: delta seconds, epoch seconds, epoch milliseconds', () => {
    expect(serverWaitMs(res(429, { 'x-ratelimit-reset': '2' }), NOW)).toBe(2_000);
    expect(serverWaitMs(res(429, { 'x-ratelimit-reset': String(NOW / 1000 + 30) }), NOW)).toBe(30_000);
    expect(serverWaitMs(res(429, { 'x-ratelimit-reset': String(NOW + 700) }), NOW)).toBe(700);
    expect(serverWaitMs(res(429, { 'ratelimit-reset': '9' }), NOW)).toBe(9_000);
  });

  it('reads the IETF RateLimit field (t= in newer drafts, reset= in older ones)', () => {
    expect(serverWaitMs(res(429, { ratelimit: '"default";r=0;t=12' }), NOW)).toBe(12_000);
    expect(serverWaitMs(res(429, { ratelimit: 'limit=100, remaining=0, reset=4' }), NOW)).toBe(4_000);
  });

  it('reads reset headers on other statuses only when the budget is spent', () => {
    expect(serverWaitMs(res(503, { 'x-ratelimit-reset': '10' }), NOW)).toBeUndefined();
    expect(serverWaitMs(res(503, { 'x-ratelimit-reset': '10', 'x-ratelimit-remaining': '3' }), NOW)).toBeUndefined();
    expect(serverWaitMs(res(503, { 'x-ratelimit-reset': '10', 'x-ratelimit-remaining': '0' }), NOW)).toBe(10_000);
    expect(serverWaitMs(res(503, { ratelimit: '"default";r=0;t=3' }), NOW)).toBe(3_000);
    expect(serverWaitMs(res(503, { ratelimit: '"default";r=10;t=3' }), NOW)).toBeUndefined();
  });

  it('takes the longest of several hints, never less than any of them', () => {
    expect(
      serverWaitMs(res(429, { 'retry-after': '2', 'retry-after-ms': '2500', 'x-ratelimit-reset': '1' }), NOW),
    ).toBe(2_500);
  });

  it('returns undefined when nothing asks for a wait', () => {
    expect(serverWaitMs(res(503, {}), NOW)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { geocodingStatusAction } from './status';

describe('geocodingStatusAction', () => {
  it('retries only what may succeed again', () => {
    expect(geocodingStatusAction('UNKNOWN_ERROR')).toBe('retry');
    expect(geocodingStatusAction('OVER_QUERY_LIMIT')).toBe('backoff');
  });

  it('never retries configuration or request errors', () => {
    for (const s of [
      'OVER_DAILY_LIMIT',
      'REQUEST_DENIED',
      'INVALID_REQUEST',
      'MAX_ELEMENTS_EXCEEDED',
      'SOMETHING_NEW',
    ]) {
      expect(geocodingStatusAction(s)).toBe('fail');
    }
  });

  it('treats ZERO_RESULTS as an empty success', () => {
    expect(geocodingStatusAction('OK')).toBe('ok');
    expect(geocodingStatusAction('ZERO_RESULTS')).toBe('empty');
  });
});

import { describe, expect, it } from 'vitest';
import { ResilienceError } from './errors';
import { headerOf, hostOf, isNetworkFailure, isRequestError, methodOf, urlOf } from './internal';

describe('request helpers', () => {
  it('finds the host of absolute URLs without parsing them', () => {
    expect(hostOf('https://API.Example.com/v1/x?y=1')).toBe('api.example.com');
    expect(hostOf('http://user:pw@host.test:8080')).toBe('host.test:8080');
    expect(hostOf('http://[::1]:3000/p')).toBe('[::1]:3000');
    expect(hostOf('https://h.test?q=1')).toBe('h.test');
    expect(hostOf('https://h.test#frag')).toBe('h.test');
    expect(hostOf('/relative/path')).toBe('');
  });

  it('reads url and method from a string, a URL or a Request', () => {
    expect(urlOf(new URL('https://a.test/x'))).toBe('https://a.test/x');
    expect(urlOf(new Request('https://a.test/y'))).toBe('https://a.test/y');
    expect(methodOf('https://a.test', { method: 'post' })).toBe('POST');
    expect(methodOf(new Request('https://a.test', { method: 'PUT' }), undefined)).toBe('PUT');
    expect(methodOf('https://a.test', undefined)).toBe('GET');
  });

  it('reads a header from any headers shape, case-insensitively', () => {
    const url = 'https://a.test';
    expect(headerOf(url, { headers: { 'Idempotency-Key': 'k' } }, 'idempotency-key')).toBe('k');
    expect(headerOf(url, { headers: [['idempotency-key', 'k2']] }, 'Idempotency-Key')).toBe('k2');
    expect(headerOf(url, { headers: new Headers({ a: '1' }) }, 'A')).toBe('1');
    expect(headerOf(new Request(url, { headers: { b: '2' } }), undefined, 'b')).toBe('2');
    expect(headerOf(url, undefined, 'b')).toBeNull();
    expect(headerOf(url, { headers: {} }, 'b')).toBeNull();
  });

  it('tells a genuine network failure from a request the fetch refused to build', () => {
    const failed = (cause: unknown) => new TypeError('fetch failed', { cause });
    const coded = (code: string) => Object.assign(new Error(code), { code });
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ENOTFOUND',
      'EAI_AGAIN',
      'UND_ERR_SOCKET',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      expect(isNetworkFailure(failed(coded(code))), code).toBe(true);
    }
    expect(isNetworkFailure(new TypeError('Failed to fetch'))).toBe(true);
    expect(isNetworkFailure(new ResilienceError('timeout', 'timeout', 'slow'))).toBe(true);
    const refused = [
      new TypeError('Cannot convert argument to a ByteString because the character at index 9 has a value of 8217'),
      new TypeError('Request with GET/HEAD method cannot have body.'),
      new TypeError('Failed to parse URL from http//x', {
        cause: Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' }),
      }),
      failed(new Error('bad port')),
      failed(coded('UND_ERR_INVALID_ARG')),
    ];
    for (const error of refused) {
      expect(isNetworkFailure(error), error.message).toBe(false);
      expect(isRequestError(error), error.message).toBe(true);
    }
    expect(isNetworkFailure(new DOMException('aborted', 'AbortError'))).toBe(false);
    expect(isNetworkFailure(new ResilienceError('deadline', 'deadline_exceeded', 'late'))).toBe(false);
  });
});

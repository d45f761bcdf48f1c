import { describe, expect, it } from 'vitest';
import { headerOf, hostOf, methodOf, urlOf } from './internal';

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
});

import { describe, expect, inject, it } from 'vitest';
import { backend } from '#crypto';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by the core-webcrypto project; absent in the default (Node) project. */
    cryptoBackend?: 'node' | 'web';
  }
}

describe('#crypto', () => {
  it('resolves to the backend this test project runs (node:crypto by default, Web Crypto when forced)', () => {
    expect(backend.name).toBe(inject('cryptoBackend') ?? 'node');
  });
});

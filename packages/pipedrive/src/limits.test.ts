import { describe, expect, it } from 'vitest';
import { type PipedrivePlan, pipedriveBurstLimit } from './limits';

describe('pipedriveBurstLimit', () => {
  it('follows the published table per plan and auth', () => {
    expect(pipedriveBurstLimit('lite', 'api_token')).toEqual({ requests: 20, intervalMs: 2000 });
    expect(pipedriveBurstLimit('growth', 'oauth')).toEqual({ requests: 160, intervalMs: 2000 });
    expect(pipedriveBurstLimit('ultimate', 'api_token').requests).toBe(120);
  });

  it('caps the Search API at 10 per 2 s on every plan', () => {
    expect(pipedriveBurstLimit('premium', 'oauth', { search: true }).requests).toBe(10);
  });

  it('rejects an unknown plan with a typed error', () => {
    expect(() => pipedriveBurstLimit('enterprise' as PipedrivePlan, 'oauth')).toThrow(TypeError);
  });
});

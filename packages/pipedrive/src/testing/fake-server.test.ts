import { describe, expect, it } from 'vitest';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from './index';

const TOKEN = { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN };

describe('fake Pipedrive over real sockets and real time', () => {
  it('the rolling 2 s window holds at arrival: never more than 20 accepted in any 2 s, and a slot frees after the reset', async () => {
    const fake = createFakePipedrive({ ban: false });
    const server = await fake.listen();
    try {
      const burst = await Promise.all(
        Array.from({ length: 30 }, () => fetch(`${server.url}/api/v2/persons`, { headers: TOKEN })),
      );
      const statuses = burst.map((r) => r.status);
      await Promise.all(burst.map((r) => r.arrayBuffer()));
      const arrivals = fake.requests.map((r) => r.at);
      const span = Math.max(...arrivals) - Math.min(...arrivals);
      // on a loaded machine the 30 may straddle more than one window; when they did not, exactly 20 got in
      if (span < 2000) expect(statuses.filter((s) => s === 200)).toHaveLength(20);
      const limited = burst.find((r) => r.status === 429);
      if (limited) {
        const resetSeconds = Number(limited.headers.get('x-ratelimit-reset'));
        expect(resetSeconds).toBeGreaterThanOrEqual(1);
        expect(resetSeconds).toBeLessThanOrEqual(2);
      }

      // wait past the reset the fake announced, then one more request is accepted
      const lastAccepted = Math.max(...fake.requests.filter((r) => r.status === 200).map((r) => r.at));
      const firstAccepted = Math.min(...fake.requests.filter((r) => r.status === 200).map((r) => r.at));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstAccepted + 2000 - Date.now()) + 20));
      const after = await fetch(`${server.url}/api/v2/persons`, { headers: TOKEN });
      await after.arrayBuffer();
      expect(after.status).toBe(200);
      expect(lastAccepted).toBeGreaterThanOrEqual(firstAccepted);

      // the invariant, on the fake's own arrival times
      const accepted = fake.requests
        .filter((r) => r.status === 200)
        .map((r) => r.at)
        .sort((a, b) => a - b);
      for (let i = 0; i < accepted.length; i++) {
        const inWindow = accepted.filter((t) => t >= (accepted[i] as number) && t < (accepted[i] as number) + 2000);
        expect(inWindow.length).toBeLessThanOrEqual(20);
      }
    } finally {
      await server.close();
    }
  });

  it('a hanging request is released when the client aborts, and close() ends open connections', async () => {
    const fake = createFakePipedrive({ rateLimit: false });
    const server = await fake.listen();
    fake.fault({ kind: 'hang' });
    await expect(
      fetch(`${server.url}/api/v2/persons`, { headers: TOKEN, signal: AbortSignal.timeout(200) }),
    ).rejects.toThrow();
    fake.fault({ kind: 'connection' });
    await expect(fetch(`${server.url}/api/v2/persons`, { headers: TOKEN })).rejects.toThrow();
    const ok = await fetch(`${server.url}/api/v2/persons`, { headers: TOKEN });
    expect(ok.status).toBe(200);
    await server.close();
  });
});

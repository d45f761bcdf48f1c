import { createServer } from 'node:http';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWebhookVerificationError } from '../errors';
import { expectRejection } from '../test-support';
import { readExpressBody } from './express';
import { readNodeBody } from './node';
import { readRequestBody } from './request';
import { listen } from './test-server';

/**
 * The raw-body helpers bound how long a body may take (`timeoutMs`, 10 s by default): a sender that
 * stalls or trickles gets `body_timeout`, over real sockets and real time.
 */

let server: Awaited<ReturnType<typeof listen>>;
const outcomes: { code: string; ms: number }[] = [];

beforeAll(async () => {
  server = await listen(
    createServer(async (req, res) => {
      const started = performance.now();
      try {
        const raw = await readNodeBody(req, { timeoutMs: 300 });
        outcomes.push({ code: 'ok', ms: performance.now() - started });
        res.end(`${raw.length}`);
      } catch (error) {
        const code = isWebhookVerificationError(error) ? error.code : 'crash';
        outcomes.push({ code, ms: performance.now() - started });
        res.writeHead(code === 'body_timeout' ? 408 : 400, { connection: 'close' }).end(code);
      }
    }),
  );
});
afterAll(() => server.close());

/** Sends the head and `sent` of a body announced as 100 bytes, a byte every `everyMs` for `bytes`, then waits. */
function partialRequest(bytes: number, everyMs: number): Promise<string> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        'POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      );
      let left = bytes;
      const drip = setInterval(() => {
        if (left-- <= 0 || socket.destroyed) clearInterval(drip);
        else socket.write(' ');
      }, everyMs);
      socket.once('close', () => clearInterval(drip));
    });
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('raw-body helpers: timeoutMs (real sockets, real time)', () => {
  it('answers a stalled body with body_timeout after about timeoutMs, and the connection closes', async () => {
    const answer = await partialRequest(0, 50);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toContain('body_timeout');
    const last = outcomes.at(-1);
    expect(last?.code).toBe('body_timeout');
    expect(last?.ms).toBeGreaterThanOrEqual(290);
    expect(last?.ms).toBeLessThan(2000);
  });

  it('answers a body trickling a byte every 50 ms the same: the limit is on the whole body, not between bytes', async () => {
    const answer = await partialRequest(1000, 50);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(outcomes.at(-1)?.code).toBe('body_timeout');
  });

  it('reads a body that arrives in time', async () => {
    const response = await fetch(`${server.url}/hook`, { method: 'POST', body: 'x'.repeat(50) });
    expect([response.status, await response.text()]).toEqual([200, '50']);
  });
});

describe('raw-body helpers: timeoutMs on streams', () => {
  it('readNodeBody and readExpressBody reject with body_timeout, and pause the stream', async () => {
    const stalled = Object.assign(new PassThrough(), { headers: {} });
    stalled.write('{"partial":');
    await expectRejection(readNodeBody(stalled, { timeoutMs: 30 }), 'body_timeout');
    expect(stalled.isPaused()).toBe(true);
    const express = Object.assign(new PassThrough(), { headers: {}, body: undefined });
    await expectRejection(readExpressBody(express, { timeoutMs: 30 }), 'body_timeout');
  });

  it('readRequestBody rejects with body_timeout (not a body cut short) and cancels the stream', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"partial":'));
      },
      cancel() {
        cancelled = true;
      },
    });
    const request = new Request('http://127.0.0.1/hook', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectRejection(readRequestBody(request, { timeoutMs: 30 }), 'body_timeout');
    expect(cancelled).toBe(true);
  });

  it('timeoutMs: false sets no limit; a bad timeoutMs is invalid_options', async () => {
    const slow = Object.assign(new PassThrough(), { headers: {} });
    const reading = readNodeBody(slow, { timeoutMs: false });
    setTimeout(() => slow.end('late'), 60);
    expect(new TextDecoder().decode(await reading)).toBe('late');
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, '10' as unknown as number]) {
      await expectRejection(
        readNodeBody(Object.assign(new PassThrough(), { headers: {} }), { timeoutMs }),
        'invalid_options',
      );
      await expectRejection(
        readRequestBody(new Request('http://127.0.0.1/', { method: 'POST', body: 'x' }), { timeoutMs }),
        'invalid_options',
      );
    }
  });
});

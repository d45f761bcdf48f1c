import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWebhookVerificationError } from '../errors';
import { signWebhook } from '../sign';
import { digestId, expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';
import { readNodeBody } from './node';
import { listen } from './test-server';

const secret = 'node http secret';
const body = JSON.stringify({ action: 'created', n: 1 });
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  server = await listen(
    createServer(async (req, res) => {
      try {
        const raw = await readNodeBody(req, { maxBytes: 1024 });
        const event = await verifyWebhook({ body: raw, headers: req.headers }, { scheme: 'github', secret });
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ id: event.id, deliveryId: event.deliveryId, type: event.type }));
      } catch (error) {
        const code = isWebhookVerificationError(error) ? error.code : 'crash';
        res.writeHead(code === 'body_too_large' ? 413 : 400, { connection: 'close' }).end(code);
      }
    }),
  );
});
afterAll(() => server.close());

describe('readNodeBody with node:http', () => {
  it('reads the raw bytes that verify', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'n-1', type: 'issues' });
    const response = await fetch(`${server.url}/hook`, {
      method: 'POST',
      body: signed.body as string,
      headers: signed.headers,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: digestId(body), deliveryId: 'n-1', type: 'issues' });
  });

  it('answers 413 for a body over the limit, announced or streamed in chunks', async () => {
    const big = 'x'.repeat(5000);
    const announced = await fetch(`${server.url}/hook`, { method: 'POST', body: big });
    expect([announced.status, await announced.text()]).toEqual([413, 'body_too_large']);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(500)));
        controller.close();
      },
    });
    const chunked = await fetch(`${server.url}/hook`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('rejects a consumed stream, a stream error and an abort with typed codes', async () => {
    const consumed = Object.assign(new PassThrough(), { headers: {} });
    consumed.end('x');
    consumed.resume();
    await new Promise((resolve) => consumed.on('end', resolve));
    await expectRejection(readNodeBody(consumed), 'body_already_parsed');

    const broken = Object.assign(new PassThrough(), { headers: {} });
    const reading = readNodeBody(broken);
    broken.destroy(new Error('socket hang up'));
    await expectRejection(reading, 'body_read_failed');

    const aborted = Object.assign(new PassThrough(), { headers: {} });
    const pending = readNodeBody(aborted);
    aborted.write('partial');
    aborted.emit('aborted');
    await expectRejection(pending, 'body_read_failed');

    await expectRejection(
      readNodeBody(Object.assign(new PassThrough(), { headers: {} }), { maxBytes: -1 }),
      'invalid_options',
    );
  });

  it('accepts string chunks (setEncoding) and counts their UTF-8 bytes', async () => {
    const stream = Object.assign(new PassThrough(), { headers: {} });
    stream.setEncoding('utf8');
    const reading = readNodeBody(stream, { maxBytes: 8 });
    stream.end('☕☕☕');
    await expectRejection(reading, 'body_too_large');
  });
});

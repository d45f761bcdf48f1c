import { describe, expect, it } from 'vitest';
import { isWebhookVerificationError } from '../errors';
import { signWebhook } from '../sign';
import { verifyWebhook } from '../verify';
import { readRequestBody } from './request';

/**
 * A Next.js App Router route handler is a function from a Web `Request` to a `Response`
 * (`app/api/webhooks/stripe/route.ts` exporting `POST`). Next itself is not installed here, so the
 * handler is exercised exactly as Next calls it: with a Request.
 */
const secret = 'whsec_next';

export async function POST(request: Request): Promise<Response> {
  try {
    const body = await readRequestBody(request, { maxBytes: 2048 });
    const event = await verifyWebhook({ body, headers: request.headers }, { scheme: 'stripe', secret });
    return Response.json({ id: event.id });
  } catch (error) {
    const code = isWebhookVerificationError(error) ? error.code : 'crash';
    return new Response(code, { status: code === 'body_too_large' ? 413 : 400 });
  }
}

const body = JSON.stringify({ id: 'evt_next', object: 'event' });
const request = (payload: BodyInit, headers: Record<string, string>) =>
  new Request('http://localhost/api/webhooks/stripe', { method: 'POST', body: payload, headers });

describe('readRequestBody in a Next.js route handler (Web Request path)', () => {
  it('verifies a genuine delivery', async () => {
    const signed = await signWebhook({ scheme: 'stripe', secret, body });
    const response = await POST(request(body, signed.headers));
    expect(await response.json()).toEqual({ id: 'evt_next' });
  });

  it('answers 413 past the limit and 400 for a replayed signature on another body', async () => {
    const big = JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(4000) });
    const signedBig = await signWebhook({ scheme: 'stripe', secret, body: big });
    expect((await POST(request(big, signedBig.headers))).status).toBe(413);
    const signed = await signWebhook({ scheme: 'stripe', secret, body });
    const other = await POST(request(JSON.stringify({ id: 'evt_other' }), signed.headers));
    expect([other.status, await other.text()]).toEqual([400, 'no_matching_signature']);
  });

  it('reads a streamed body (no Content-Length) and stops at the limit', async () => {
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(1000).fill(32));
      },
    });
    const streamed = new Request('http://localhost/x', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    const error = await readRequestBody(streamed, { maxBytes: 4096 }).catch((e: unknown) => e);
    expect(isWebhookVerificationError(error) && error.code).toBe('body_too_large');
  });
});

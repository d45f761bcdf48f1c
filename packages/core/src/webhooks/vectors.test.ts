import { describe, expect, it } from 'vitest';
import { signWebhook } from './sign';
import vectorFile from './testdata/vectors.json';
import type { WebhookSchemeName } from './types';
import { verifyWebhook } from './verify';

interface Vector {
  name: string;
  scheme: WebhookSchemeName;
  secret: string;
  timestamp?: number;
  id?: string;
  type?: string;
  body: string;
  payload: 'json' | 'raw';
  headers: Record<string, string>;
  expect: { id: string; timestamp: number | null; type: string | null; deliveryId: string | null };
}

const vectors = vectorFile.vectors as Vector[];

describe.each(vectors)('known-answer vector: $name', (vector) => {
  const now = () => (vector.timestamp ?? 0) * 1000;

  it('verifies', async () => {
    const event = await verifyWebhook(
      { body: vector.body, headers: vector.headers },
      { scheme: vector.scheme, secret: vector.secret, now, payload: vector.payload },
    );
    const { id, timestamp, type = null, deliveryId } = event;
    expect({ id, timestamp, type, deliveryId }).toEqual(vector.expect);
    expect(new TextDecoder().decode(event.rawBody)).toBe(vector.body);
  });

  it('is reproduced exactly by signWebhook', async () => {
    const signed = await signWebhook({
      scheme: vector.scheme,
      secret: vector.secret,
      body: vector.body,
      ...(vector.timestamp === undefined ? {} : { timestamp: vector.timestamp }),
      ...(vector.id === undefined ? {} : { id: vector.id }),
      ...(vector.type === undefined ? {} : { type: vector.type }),
    });
    expect(signed.headers).toMatchObject(vector.headers);
  });

  it('fails with one byte of the body changed', async () => {
    const tampered = vector.body.slice(0, -1) + String.fromCharCode(vector.body.charCodeAt(vector.body.length - 1) ^ 1);
    await expect(
      verifyWebhook(
        { body: tampered, headers: vector.headers },
        { scheme: vector.scheme, secret: vector.secret, now, payload: 'raw' },
      ),
    ).rejects.toMatchObject({ code: 'no_matching_signature' });
  });
});

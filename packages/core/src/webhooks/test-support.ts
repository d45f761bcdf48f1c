import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { isWebhookVerificationError, type WebhookVerificationErrorCode } from './errors';

/** Asserts that `promise` rejects with a WebhookVerificationError of `code`, and returns it. */
export async function expectRejection(promise: Promise<unknown>, code: WebhookVerificationErrorCode | string) {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a rejection with ${code}, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason,
  );
  expect(isWebhookVerificationError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error;
}

/** The event id `verifyWebhook` derives from a body, computed independently with node:crypto. */
export function digestId(body: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

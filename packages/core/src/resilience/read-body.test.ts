import { describe, expect, it } from 'vitest';
import { readResponseText } from './read-body';

/** A body whose cancel() never settles, as a misbehaving stream source can make it. */
function stubbornBody(onCancel: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream({
    cancel: () => {
      onCancel();
      return new Promise<void>(() => {});
    },
  });
}

describe('readResponseText with a body that ignores cancellation', () => {
  it('rejects at once with the reason of a signal aborted before the read, and still asks the body to cancel', async () => {
    let asked = false;
    const controller = new AbortController();
    controller.abort(new Error('user left'));
    const read = readResponseText(new Response(stubbornBody(() => (asked = true))), { signal: controller.signal });
    const outcome = await Promise.race([
      read.then(
        () => 'read',
        (error: Error) => error.message,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still pending'), 500)),
    ]);
    expect(outcome).toBe('user left');
    expect(asked).toBe(true);
  });

  it('rejects with timeout when the body never arrives, whatever its cancel does', async () => {
    const read = readResponseText(new Response(stubbornBody(() => {})), { timeoutMs: 100 });
    await expect(read).rejects.toMatchObject({ code: 'timeout' });
  });
});

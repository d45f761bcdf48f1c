import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../sign';
import { digestId, expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';

const secret = 'a github webhook secret';
const body = JSON.stringify({ action: 'opened', issue: { number: 1 } });

describe('github scheme', () => {
  it('verifies signatures from @octokit/webhooks-methods: type from X-GitHub-Event, id from the signed body', async () => {
    const headers = {
      'X-Hub-Signature-256': await octokitSign(secret, body),
      'X-GitHub-Delivery': 'd-1',
      'X-GitHub-Event': 'issues',
    };
    const event = await verifyWebhook({ body, headers }, { scheme: 'github', secret });
    expect(event).toEqual({
      id: digestId(body),
      type: 'issues',
      deliveryId: 'd-1',
      timestamp: null,
      scheme: 'github',
      payload: JSON.parse(body),
      rawBody: new TextEncoder().encode(body),
    });
  });

  it('signs deliveries that @octokit/webhooks-methods accepts, with the delivery id and the event type', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'd-2', type: 'issues' });
    expect(signed.headers['x-github-delivery']).toBe('d-2');
    expect(signed.headers['x-github-event']).toBe('issues');
    expect(await octokitVerify(secret, body, signed.headers['x-hub-signature-256'] ?? '')).toBe(true);
    expect(await octokitVerify(secret, `${body}\n`, signed.headers['x-hub-signature-256'] ?? '')).toBe(false);
    await expectRejection(signWebhook({ scheme: 'github', secret, body }), 'invalid_options');
  });

  it('keys a replay under a new X-GitHub-Delivery (or X-GitHub-Event) to the same id: the headers are not signed', async () => {
    const captured = await signWebhook({ scheme: 'github', secret, body, id: 'd-3', type: 'issues' });
    const original = await verifyWebhook(captured, { scheme: 'github', secret });
    // no replay window: an old delivery verifies at any time, so only the id can absorb it
    const replayed = await verifyWebhook(
      { body, headers: { ...captured.headers, 'x-github-delivery': 'fresh-delivery-id', 'x-github-event': 'push' } },
      { scheme: 'github', secret, now: () => 0 },
    );
    expect(original).toMatchObject({ id: digestId(body), deliveryId: 'd-3', type: 'issues' });
    expect(replayed).toMatchObject({ id: original.id, deliveryId: 'fresh-delivery-id', type: 'push' });
    const other = JSON.stringify({ action: 'closed', issue: { number: 1 } });
    const next = await signWebhook({ scheme: 'github', secret, body: other, id: 'd-4', type: 'issues' });
    expect((await verifyWebhook(next, { scheme: 'github', secret })).id).toBe(digestId(other));
  });

  it('reports a missing X-GitHub-Delivery as a null deliveryId (it is informational)', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, type: 'issues' });
    const { 'x-github-delivery': _, ...headers } = signed.headers;
    const event = await verifyWebhook({ body, headers }, { scheme: 'github', secret });
    expect([event.id, event.deliveryId, event.type]).toEqual([digestId(body), null, 'issues']);
  });

  it('rejects missing, malformed, doubled and wrong signatures, and a missing event type', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'd-4', type: 'issues' });
    const h = signed.headers;
    const sig = h['x-hub-signature-256'] ?? '';
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'x-github-delivery': 'd-4', 'x-github-event': 'issues' }, 'missing_header'],
      [{ 'x-hub-signature-256': sig, 'x-github-delivery': 'd-4' }, 'missing_header'],
      [{ ...h, 'x-github-event': '' }, 'missing_header'],
      [{ ...h, 'x-hub-signature-256': sig.replace('sha256=', 'sha1=') }, 'malformed_header'],
      [{ ...h, 'x-hub-signature-256': sig.slice(0, -2) }, 'malformed_header'],
      [{ ...h, 'x-hub-signature-256': `${sig}, ${sig}` }, 'duplicate_header'],
      [{ ...h, 'X-Hub-Signature-256': sig }, 'duplicate_header'],
      [{ ...h, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, 'no_matching_signature'],
    ];
    for (const [headers, code] of cases) {
      await expectRejection(verifyWebhook({ body, headers }, { scheme: 'github', secret }), code);
    }
  });
});

import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../sign';
import { expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';

const secret = 'a github webhook secret';
const body = JSON.stringify({ action: 'opened', issue: { number: 1 } });

describe('github scheme', () => {
  it('verifies signatures from @octokit/webhooks-methods and reports no timestamp', async () => {
    const headers = { 'X-Hub-Signature-256': await octokitSign(secret, body), 'X-GitHub-Delivery': 'd-1' };
    const event = await verifyWebhook({ body, headers }, { scheme: 'github', secret });
    expect(event).toMatchObject({ id: 'd-1', timestamp: null, scheme: 'github', payload: JSON.parse(body) });
  });

  it('signs deliveries that @octokit/webhooks-methods accepts', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'd-2' });
    expect(signed.headers['x-github-delivery']).toBe('d-2');
    expect(await octokitVerify(secret, body, signed.headers['x-hub-signature-256'] ?? '')).toBe(true);
    expect(await octokitVerify(secret, `${body}\n`, signed.headers['x-hub-signature-256'] ?? '')).toBe(false);
  });

  it('has no replay window: an old delivery still verifies (de-duplicate on the delivery id)', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'd-3' });
    await expect(verifyWebhook(signed, { scheme: 'github', secret, now: () => 0 })).resolves.toMatchObject({
      id: 'd-3',
    });
  });

  it('rejects missing, malformed, doubled and wrong signatures', async () => {
    const signed = await signWebhook({ scheme: 'github', secret, body, id: 'd-4' });
    const h = signed.headers;
    const sig = h['x-hub-signature-256'] ?? '';
    const cases: Array<[Record<string, string>, string]> = [
      [{ 'x-github-delivery': 'd-4' }, 'missing_header'],
      [{ 'x-hub-signature-256': sig }, 'missing_header'],
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

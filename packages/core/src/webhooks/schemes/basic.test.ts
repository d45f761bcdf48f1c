import { describe, expect, it } from 'vitest';
import { signWebhook } from '../sign';
import { digestId, expectRejection } from '../test-support';
import { verifyWebhook } from '../verify';

const secret = 'pipedrive:s3cret pass';
const body = JSON.stringify({
  meta: { id: 'a1b2', action: 'change', entity: 'deal', version: '2.0', attempt: 1 },
  data: { id: 7 },
});
const auth = (user: string) => ({ authorization: `Basic ${btoa(user)}` });

describe('basic scheme', () => {
  it('accepts matching Basic credentials and takes the id from meta.id of a Pipedrive v2 payload', async () => {
    const event = await verifyWebhook({ body, headers: auth(secret) }, { scheme: 'basic', secret });
    expect(event).toMatchObject({
      id: 'a1b2',
      type: undefined,
      deliveryId: null,
      timestamp: null,
      scheme: 'basic',
      payload: JSON.parse(body),
    });
    // a retry bumps meta.attempt: the body differs, the event id does not
    const retry = body.replace('"attempt":1', '"attempt":2');
    await expect(
      verifyWebhook({ body: retry, headers: auth(secret) }, { scheme: 'basic', secret }),
    ).resolves.toMatchObject({ id: 'a1b2' });
  });

  it('keys a v1 payload (whose meta.id is the object id, not the event id) by a body digest', async () => {
    const v1 = JSON.stringify({ v: 1, meta: { action: 'updated', object: 'deal', id: 123 }, current: { id: 123 } });
    const event = await verifyWebhook({ body: v1, headers: auth(secret) }, { scheme: 'basic', secret });
    expect([event.id, event.payload]).toEqual([digestId(v1), JSON.parse(v1)]);
  });

  it('signs with the Authorization header a Pipedrive webhook sends', async () => {
    const signed = await signWebhook({ scheme: 'basic', secret, body });
    expect(signed.headers.authorization).toBe(`Basic ${btoa(secret)}`);
  });

  it('accepts any configured credentials during a rotation, with a case-insensitive scheme word', async () => {
    const headers = { Authorization: `basic  ${btoa(secret)}` };
    await expect(
      verifyWebhook({ body, headers }, { scheme: 'basic', secret: ['old:pw', secret] }),
    ).resolves.toMatchObject({ id: 'a1b2', payload: JSON.parse(body) });
  });

  it('rejects wrong, truncated, missing and malformed credentials', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [auth('pipedrive:wrong'), 'no_matching_signature'],
      [auth(secret.slice(0, -1)), 'no_matching_signature'],
      [auth(`${secret}x`), 'no_matching_signature'],
      [{}, 'missing_header'],
      [{ authorization: `Bearer ${btoa(secret)}` }, 'malformed_header'],
      [{ authorization: 'Basic %%%' }, 'malformed_header'],
      [{ authorization: `Basic ${btoa('no-colon')}` }, 'malformed_header'],
      [{ authorization: `Basic ${btoa(secret)}, Basic ${btoa(secret)}` }, 'duplicate_header'],
    ];
    for (const [headers, code] of cases) {
      await expectRejection(verifyWebhook({ body, headers }, { scheme: 'basic', secret }), code);
    }
  });

  it('rejects a secret that is not user:password', async () => {
    await expectRejection(
      verifyWebhook({ body, headers: auth(secret) }, { scheme: 'basic', secret: 'nocolon' }),
      'invalid_secret',
    );
  });
});

import { randomBytes } from 'node:crypto';
import { memoryInbox } from '@ballast/core/stores/memory';
import { createVault, memoryVaultStore, type Vault } from '@ballast/core/vault';
import { describe, expect, it } from 'vitest';
import { pipedriveClient } from './client';
import { delivery, person, v2Payload } from './test-support';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from './testing/index';
import { isPipedriveWebhookError } from './webhook-errors';
import {
  type PipedriveWebhookRegistrationOptions,
  pipedriveWebhookCredentials,
  registerPipedriveWebhook,
  removePipedriveWebhook,
  rotatePipedriveWebhook,
} from './webhook-registration';
import { pipedriveWebhooks } from './webhooks';

const URL_ = 'https://app.example.com/webhooks/pipedrive';

function setup() {
  const fake = createFakePipedrive({ rateLimit: false });
  const client = pipedriveClient({
    auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
    plan: 'lite',
    fetch: fake.fetch,
    limiter: false,
    breaker: false,
    retryBudget: false,
  });
  const vault: Vault = createVault({ keyring: `k1:${randomBytes(32).toString('base64')}`, store: memoryVaultStore() });
  const options: PipedriveWebhookRegistrationOptions = { client, vault, tenant: 'acme', subscriptionUrl: URL_ };
  return { fake, client, vault, options };
}

describe('registerPipedriveWebhook', () => {
  it('creates a v2 webhook with generated Basic credentials kept in the vault, and registering again changes nothing', async () => {
    const { fake, vault, options } = setup();
    const first = await registerPipedriveWebhook({ ...options, eventObject: 'person', name: 'ballast' });
    expect(first.created).toBe(true);
    const stored = (await vault.get('acme', 'pipedrive_webhook')).reveal();
    expect(stored).toBe(first.credentials.reveal());
    expect(stored).toMatch(/^ballast-[0-9a-f]{8}:[A-Za-z0-9_-]{32}$/);
    expect(String(first.credentials)).not.toContain(stored.split(':')[1]);
    expect(fake.webhooks()).toEqual([
      expect.objectContaining({
        subscription_url: URL_,
        event_action: '*',
        event_object: 'person',
        version: '2.0',
        http_auth_user: stored.split(':')[0],
        http_auth_password: stored.split(':')[1],
        name: 'ballast',
      }),
    ]);
    const again = await registerPipedriveWebhook({ ...options, eventObject: 'person', name: 'ballast' });
    expect(again).toMatchObject({ created: false, removed: [], webhook: { id: first.webhook.id } });
    expect(again.credentials.reveal()).toBe(stored);
    expect(fake.webhooks()).toHaveLength(1);
  });

  it('replaces a webhook for the same URL whose credentials are not the stored ones (lost vault entry, other events)', async () => {
    const { fake, client, vault, options } = setup();
    const stray = await client.webhooks.create({
      subscription_url: URL_,
      event_action: '*',
      event_object: '*',
      http_auth_user: 'someone',
      http_auth_password: 'else',
    });
    await client.webhooks.create({
      subscription_url: 'https://other.example.com/hook',
      event_action: '*',
      event_object: '*',
    });
    const result = await registerPipedriveWebhook(options);
    expect(result.created).toBe(true);
    expect(result.removed).toEqual([stray.id]);
    expect(
      fake
        .webhooks()
        .map((w) => w.subscription_url)
        .sort(),
    ).toEqual([URL_, 'https://other.example.com/hook']);
    // the stored credentials survive a re-registration for other events: that webhook is replaced, credentials renewed
    const narrower = await registerPipedriveWebhook({ ...options, eventAction: 'change' });
    expect(narrower.created).toBe(true);
    expect(narrower.removed).toEqual([result.webhook.id]);
    expect((await vault.get('acme', 'pipedrive_webhook')).reveal()).toBe(narrower.credentials.reveal());
  });

  it('rotation: a new webhook with new credentials, the old one removed, and the endpoint accepts both meanwhile', async () => {
    const { fake, vault, options } = setup();
    const first = await registerPipedriveWebhook(options);
    const rotated = await rotatePipedriveWebhook(options);
    expect(rotated.removed).toEqual([first.webhook.id]);
    expect(fake.webhooks().map((w) => w.id)).toEqual([rotated.webhook.id]);
    const accepted = await pipedriveWebhookCredentials(vault, 'acme');
    expect(accepted.map((s) => s.reveal())).toEqual([rotated.credentials.reveal(), first.credentials.reveal()]);
    const inbox = memoryInbox();
    const endpoint = pipedriveWebhooks({ credentials: accepted, inbox });
    const send = (credentials: string) =>
      endpoint(delivery(v2Payload('person', 'create', person(1, 'A', 'a@example.com')), credentials));
    expect((await send(first.credentials.reveal())).status).toBe(200);
    expect((await send(rotated.credentials.reveal())).status).toBe(200);
    expect((await send('ballast-00000000:guessed')).status).toBe(401);
    await inbox.close();
  });

  it('removal deletes every webhook for the URL and the stored credentials', async () => {
    const { fake, vault, options } = setup();
    await registerPipedriveWebhook(options);
    await rotatePipedriveWebhook(options);
    const result = await removePipedriveWebhook(options);
    expect(result.removed).toHaveLength(1);
    expect(result.credentialsDeleted).toBe(true);
    expect(fake.webhooks()).toEqual([]);
    await expect(pipedriveWebhookCredentials(vault, 'acme')).rejects.toSatisfy(isPipedriveWebhookError);
  });

  it('refuses bad options with a typed error before calling Pipedrive', async () => {
    const { fake, options } = setup();
    for (const bad of [
      { ...options, subscriptionUrl: 'not a url' },
      { ...options, subscriptionUrl: 'ftp://x.example.com/' },
      { ...options, tenant: '' },
      { ...options, eventAction: 'poke' },
      { ...options, client: {} },
      { ...options, vault: {} },
    ]) {
      await expect(registerPipedriveWebhook(bad as PipedriveWebhookRegistrationOptions)).rejects.toSatisfy(
        isPipedriveWebhookError,
      );
    }
    expect(fake.requests).toHaveLength(0);
  });
});

import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@ballast/core/inbox';
import { memoryInbox } from '@ballast/core/stores/memory';
import { expect, it } from 'vitest';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from './testing/index';
import { pipedriveWebhooks } from './webhooks';

it('over real sockets and real time: the 200 goes out while a slow handler is still running', async () => {
  let handlerDone = false;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const inbox = memoryInbox();
  const webhook = pipedriveWebhooks({
    credentials: 'ballast-1234abcd:socket-test-password',
    inbox,
    on: {
      '*': async () => {
        await gate;
        handlerDone = true;
      },
    },
    worker: { sweepIntervalMs: false },
  });
  const server = createServer(toNodeHandler(webhook));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/pipedrive`;
  // the fake delivers over the network (no target), with Pipedrive's 10 s timeout
  const fake = createFakePipedrive({ rateLimit: false });
  const res = await fake.fetch('https://api.pipedrive.com/v1/webhooks', {
    method: 'POST',
    headers: { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({
      subscription_url: url,
      event_action: '*',
      event_object: 'person',
      http_auth_user: 'ballast-1234abcd',
      http_auth_password: 'socket-test-password',
    }),
  });
  expect(res.status).toBe(201);
  try {
    fake.create('person', { name: 'Ada' });
    for (let i = 0; i < 200 && fake.deliveries.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(fake.deliveries[0]).toMatchObject({ attempt: 1, status: 200, outcome: 'delivered' });
    expect(handlerDone).toBe(false);
    expect((await inbox.counts()).total).toBe(1);
  } finally {
    release();
    await webhook.close();
    server.close();
    await inbox.close();
  }
});

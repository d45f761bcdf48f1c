import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toExpress, toFastify, toHono } from '@ballast/core/inbox';
import { memoryInbox } from '@ballast/core/stores/memory';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { listenForTest } from '../../../test-support/http-server';
import { person, v2Payload } from './test-support';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from './testing/index';
import { isPipedriveWebhookError } from './webhook-errors';
import { pipedriveWebhooks } from './webhooks';

// The Pipedrive receiver mounted in real frameworks through core's adapters,
// on real sockets: the Basic credentials, the event id and the body travel
// through each framework's request handling, not a hand-built Request.

const CREDENTIALS = 'ballast-hook:Zx9-adapter-password';
const PATH = '/webhooks/pipedrive';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

function endpoint() {
  const inbox = memoryInbox();
  const handled: string[] = [];
  const errors: unknown[] = [];
  const webhook = pipedriveWebhooks({
    credentials: CREDENTIALS,
    inbox,
    on: {
      'person.*': (event) => {
        handled.push(`${event.action}:${event.entityId}`);
      },
    },
    worker: { sweepIntervalMs: false },
    onError: (error) => errors.push(error),
  });
  closers.push(async () => {
    await webhook.close();
    await inbox.close();
  });
  return { webhook, inbox, handled, errors };
}

async function post(base: string, body: string, credentials: string | null) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credentials !== null) headers.authorization = `Basic ${btoa(credentials)}`;
  const res = await fetch(`${base}${PATH}`, { method: 'POST', headers, body });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: left null, the status says enough
  }
  return { status: res.status, json };
}

/** One delivery, its retries, wrong and missing credentials, bodies that are not events, then the fake's own delivery, through one framework. */
async function expectPipedriveBehaviour(
  base: string,
  { webhook, inbox, handled, errors }: ReturnType<typeof endpoint>,
) {
  const payload = v2Payload('person', 'change', person(7, 'Zoë Ångström 李', 'zoe@example.com'), {
    previous: { name: 'Zoe' },
  });
  const body = JSON.stringify(payload);

  expect(await post(base, body, CREDENTIALS)).toEqual({ status: 200, json: { received: true, duplicate: false } });
  expect(await inbox.get('pipedrive', payload.meta.id)).toMatchObject({ type: 'person.change', payload });

  // Pipedrive's retry of the same event: same meta.id, a later attempt
  const retry = JSON.stringify({ ...payload, meta: { ...payload.meta, attempt: 2 } });
  expect(await post(base, retry, CREDENTIALS)).toEqual({ status: 200, json: { received: true, duplicate: true } });
  expect(await post(base, body, CREDENTIALS)).toEqual({ status: 200, json: { received: true, duplicate: true } });

  const other = v2Payload('person', 'create', person(8, 'Eve', 'eve@example.com'));
  const wrong = await post(base, JSON.stringify(other), 'ballast-hook:guess');
  expect(wrong).toEqual({ status: 401, json: { error: 'no_matching_signature' } });
  expect(await inbox.get('pipedrive', other.meta.id)).toBeNull();

  const missing = await post(base, JSON.stringify(other), null);
  expect(missing).toEqual({ status: 401, json: { error: 'missing_header' } });

  const garbage = await post(base, '{"meta": {"id": "x", ', CREDENTIALS);
  expect(garbage).toEqual({ status: 400, json: { error: 'invalid_body' } });
  const notAnEvent = await post(base, JSON.stringify({ hello: 'world' }), CREDENTIALS);
  expect(notAnEvent).toEqual({ status: 400, json: { error: 'invalid_event' } });

  expect((await inbox.counts()).total).toBe(1);
  await webhook.worker?.drain();
  expect(handled).toEqual(['change:7']);
  expect((await inbox.counts()).processed).toBe(1);
  // an authenticated delivery that is not a Pipedrive event is worth a report; the rest are not
  expect(errors.map((e) => (isPipedriveWebhookError(e) ? e.code : String(e)))).toEqual(['invalid_event']);

  // and a delivery as the fake Pipedrive sends it over the network, with the credentials it was registered with
  const fake = createFakePipedrive({ rateLimit: false });
  const [user, password] = CREDENTIALS.split(':');
  const registered = await fake.fetch('https://api.pipedrive.com/v1/webhooks', {
    method: 'POST',
    headers: { 'x-api-token': FAKE_PIPEDRIVE_API_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({
      subscription_url: `${base}${PATH}`,
      event_action: '*',
      event_object: 'person',
      http_auth_user: user,
      http_auth_password: password,
    }),
  });
  expect(registered.status).toBe(201);
  const grace = fake.create('person', { name: 'Grace Hopper' });
  for (let i = 0; i < 200 && fake.deliveries.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  expect(fake.deliveries).toMatchObject([{ attempt: 1, status: 200, outcome: 'delivered' }]);
  expect((await inbox.counts()).total).toBe(2);
  await webhook.worker?.drain();
  expect(handled).toEqual(['change:7', `create:${String(grace.id)}`]);
}

describe('pipedriveWebhooks through the framework adapters, on real sockets', () => {
  it('Express, mounted before a JSON parser', async () => {
    const target = endpoint();
    const app = express();
    app.post(PATH, toExpress(target.webhook));
    app.use(express.json());
    await expectPipedriveBehaviour(await listenForTest(createServer(app)), target);
  });

  it('Express, behind express.raw()', async () => {
    const target = endpoint();
    const app = express();
    app.post(PATH, express.raw({ type: '*/*' }), toExpress(target.webhook));
    await expectPipedriveBehaviour(await listenForTest(createServer(app)), target);
  });

  it('Fastify, with the plugin beside routes that parse JSON', async () => {
    const target = endpoint();
    const app = Fastify();
    await app.register(toFastify(target.webhook, { path: PATH }));
    app.post('/json', async (request) => ({ echoed: request.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await expectPipedriveBehaviour(base, target);
    const json = await fetch(`${base}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(await json.json()).toEqual({ echoed: { a: 1 } });
  });

  it('Hono on @hono/node-server', async () => {
    const target = endpoint();
    const app = new Hono();
    app.post(PATH, toHono(target.webhook));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await once(server, 'listening');
    await expectPipedriveBehaviour(await listenForTest(server), target);
  });
});

import { memoryInbox } from '@ballast/core/stores/memory';
import { secret } from '@ballast/core/vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PipedriveWebhookEvent } from './events';
import { delivery, person, v2Payload } from './test-support';
import { isPipedriveWebhookError } from './webhook-errors';
import { type PipedriveWebhookHandlers, type PipedriveWebhooksOptions, pipedriveWebhooks } from './webhooks';

const CREDENTIALS = 'ballast-hook:Zx9-very-long-password';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

function endpoint(on: PipedriveWebhookHandlers = {}, extra: Partial<PipedriveWebhooksOptions> = {}) {
  const inbox = memoryInbox();
  const webhook = pipedriveWebhooks({
    credentials: CREDENTIALS,
    inbox,
    on,
    worker: { sweepIntervalMs: false, retry: { maxAttempts: 1 } },
    onError: () => {},
    ...extra,
  });
  closers.push(async () => {
    await webhook.close();
    await inbox.close();
  });
  const drain = async () => {
    await webhook.worker?.drain();
  };
  return { inbox, webhook, drain };
}

describe('pipedriveWebhooks', () => {
  it('stores a v2 delivery with the right Basic credentials, answers 200, and hands the typed event to its handler', async () => {
    const seen: string[] = [];
    const { webhook, drain, inbox } = endpoint({
      'person.change': (event) => {
        if (event.version === 2) seen.push(`${event.entityId}:${event.data.name}:${event.data.emails?.[0]?.value}`);
      },
    });
    const payload = v2Payload('person', 'change', person(7, 'Ada Lovelace', 'ada@example.com'), {
      previous: { name: 'Ada' },
    });
    const res = await webhook(delivery(payload, CREDENTIALS));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true, duplicate: false });
    const stored = await inbox.get('pipedrive', payload.meta.id);
    expect(stored).toMatchObject({ type: 'person.change', payload });
    await drain();
    expect(seen).toEqual(['7:Ada Lovelace:ada@example.com']);
  });

  it('dedupes on meta.id: a retry (attempt 2, another body) is a duplicate and is processed once', async () => {
    const handled = vi.fn();
    const { webhook, drain, inbox } = endpoint({ 'deal.*': handled });
    const first = v2Payload('deal', 'create', { id: 3, title: 'Big deal', value: 5000, currency: 'EUR' });
    const retry = { ...first, meta: { ...first.meta, attempt: 2 } };
    expect(await (await webhook(delivery(first, CREDENTIALS))).json()).toEqual({ received: true, duplicate: false });
    expect(await (await webhook(delivery(retry, CREDENTIALS))).json()).toEqual({ received: true, duplicate: true });
    expect(await (await webhook(delivery(first, CREDENTIALS))).json()).toEqual({ received: true, duplicate: true });
    await drain();
    expect(handled).toHaveBeenCalledTimes(1);
    expect((await inbox.counts()).processed).toBe(1);
  });

  it('answers 401 to wrong, missing and malformed credentials, and never stores or processes those deliveries', async () => {
    const handled = vi.fn();
    const { webhook, drain, inbox } = endpoint({ '*': handled });
    const payload = v2Payload('person', 'create', person(1, 'Eve', 'eve@example.com'));
    const wrong = await webhook(delivery(payload, 'ballast-hook:guess'));
    expect([wrong.status, await wrong.json()]).toEqual([401, { error: 'no_matching_signature' }]);
    expect((await webhook(delivery(payload, 'other-user:Zx9-very-long-password'))).status).toBe(401);
    expect((await webhook(delivery(payload, `${CREDENTIALS}x`))).status).toBe(401);
    const missing = await webhook(delivery(payload, null));
    expect([missing.status, await missing.json()]).toEqual([401, { error: 'missing_header' }]);
    const bearer = await webhook(
      new Request('http://localhost/', {
        method: 'POST',
        headers: { authorization: `Bearer ${btoa(CREDENTIALS)}` },
        body: JSON.stringify(payload),
      }),
    );
    expect(bearer.status).toBe(400);
    await drain();
    expect(handled).not.toHaveBeenCalled();
    expect((await inbox.counts()).total).toBe(0);
  });

  it('answers 400 invalid_event to payloads that are not Pipedrive events, with the right credentials, and stores none', async () => {
    const { webhook, inbox } = endpoint();
    const good = v2Payload('person', 'change', person(2, 'Bob', 'bob@example.com'));
    const bad: unknown[] = [
      'not json',
      '[]',
      { hello: 'world' },
      { ...good, meta: { ...good.meta, id: undefined } },
      { ...good, meta: { ...good.meta, action: 'updated' } },
      { ...good, meta: { ...good.meta, timestamp: 'yesterday' } },
      { ...good, data: 'a string' },
      { ...good, data: null },
      { ...good, data: { ...good.data, id: 'two' } },
      { ...good, data: { ...good.data, emails: 'bob@example.com' } },
      { ...good, meta: { ...good.meta, entity_id: undefined }, data: { name: 'x' }, previous: null },
      { v: 1, meta: { action: 'exploded', object: 'person', id: 1, timestamp: 1 }, current: {} },
    ];
    for (const payload of bad) {
      const res = await webhook(delivery(payload, CREDENTIALS));
      expect(res.status, JSON.stringify(payload)).toBe(400);
    }
    const notEvent = await webhook(delivery({ meta: {} }, CREDENTIALS));
    expect(await notEvent.json()).toEqual({ error: 'invalid_event' });
    expect((await inbox.counts()).total).toBe(0);
  });

  it('out of order: an older change arriving after a newer one is skipped, and the newer state is what the handler kept', async () => {
    const state = new Map<string, string>();
    const stale: string[] = [];
    const { webhook, drain } = endpoint(
      {
        'person.*': (event) => {
          if (event.action === 'delete') state.delete(event.entityId);
          else state.set(event.entityId, String(event.data?.name));
        },
      },
      { onStale: (event) => stale.push(`${event.entityId}@${new Date(event.timestamp).toISOString()}`) },
    );
    const newer = v2Payload('person', 'change', person(9, 'New Name', 'n@example.com'), {
      timestamp: '2026-01-05T10:00:05.000Z',
    });
    const older = v2Payload('person', 'change', person(9, 'Old Name', 'n@example.com'), {
      timestamp: '2026-01-05T10:00:01.000Z',
    });
    await webhook(delivery(newer, CREDENTIALS));
    await drain();
    await webhook(delivery(older, CREDENTIALS));
    await drain();
    expect(state.get('9')).toBe('New Name');
    expect(stale).toEqual(['9@2026-01-05T10:00:01.000Z']);
    // the same numeric id on another entity is another object
    const deal = v2Payload('deal', 'change', { id: 9, title: 'Deal nine' }, { timestamp: '2026-01-05T09:00:00.000Z' });
    const dealSeen = vi.fn();
    const other = endpoint({ 'deal.change': dealSeen, 'person.*': () => {} });
    await other.webhook(delivery(newer, CREDENTIALS));
    await other.webhook(delivery(deal, CREDENTIALS));
    await other.drain();
    expect(dealSeen).toHaveBeenCalledTimes(1);
  });

  it('a late create still runs (flagged stale), a delete after the last change runs, and skipStale: false hands stale events over', async () => {
    const calls: Array<[string, boolean]> = [];
    const { webhook, drain } = endpoint(
      { '*': (event, context) => void calls.push([`${event.entity}.${event.action}`, context.stale]) },
      { skipStale: false },
    );
    const change = v2Payload('organization', 'change', { id: 4, name: 'Acme' }, { timestamp: 1_767_607_210 });
    const create = v2Payload('organization', 'create', { id: 4, name: 'Acm' }, { timestamp: 1_767_607_200 });
    const del = v2Payload('organization', 'delete', { id: 4, name: 'Acme' }, { timestamp: '1767607220' });
    for (const p of [change, create, del]) {
      await webhook(delivery(p, CREDENTIALS));
      await drain();
    }
    expect(calls).toEqual([
      ['organization.change', false],
      ['organization.create', true],
      ['organization.delete', false],
    ]);
  });

  it('routes by <entity>.<action>, then <entity>.*, then *; other entities arrive untyped', async () => {
    const calls: string[] = [];
    const { webhook, drain } = endpoint({
      'deal.delete': (e) => void calls.push(`exact:${e.entityId}:${e.data === null}`),
      'deal.*': (e) => void calls.push(`deal:${e.action}`),
      '*': (e: PipedriveWebhookEvent) => void calls.push(`any:${e.entity}.${e.action}`),
    });
    for (const p of [
      v2Payload('deal', 'delete', { id: 1, title: 'Gone' }),
      v2Payload('deal', 'change', { id: 2, title: 'Moved' }),
      v2Payload('lead', 'create', { id: 'c0ffee00-aaaa-4bbb-8ccc-000000000001', title: 'A lead' }),
    ]) {
      expect((await webhook(delivery(p, CREDENTIALS))).status).toBe(200);
    }
    await drain();
    expect(calls.sort()).toEqual(['any:lead.create', 'deal:change', 'exact:1:true']);
  });

  it('reads v1 payloads (added/updated/deleted) and dedupes their retries, whose retry counter changes the body', async () => {
    const events: PipedriveWebhookEvent[] = [];
    const { webhook, drain, inbox } = endpoint({ '*': (e) => void events.push(e) });
    const v1 = {
      v: 1,
      matches_filters: { current: [] },
      meta: {
        v: 1,
        action: 'updated',
        object: 'person',
        id: 12,
        company_id: 1234,
        user_id: 42,
        host: 'acme.pipedrive.com',
        timestamp: 1_767_607_200,
        timestamp_micro: 1_767_607_200_123_456,
        permitted_user_ids: [42],
        webhook_id: '77',
      },
      current: { id: 12, name: 'Vee One', email: [{ value: 'v1@example.com', primary: true }] },
      previous: { id: 12, name: 'Vee', email: [{ value: 'v1@example.com', primary: true }] },
      event: 'updated.person',
      retry: 0,
    };
    expect(await (await webhook(delivery(v1, CREDENTIALS))).json()).toEqual({ received: true, duplicate: false });
    expect(await (await webhook(delivery({ ...v1, retry: 1 }, CREDENTIALS))).json()).toEqual({
      received: true,
      duplicate: true,
    });
    await drain();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      version: 1,
      action: 'change',
      entity: 'person',
      entityId: '12',
      timestamp: 1_767_607_200_000,
      data: { name: 'Vee One' },
    });
    expect((await inbox.counts()).total).toBe(1);
  });

  it('accepts a vault Secret and several credentials while rotating them', async () => {
    const { webhook } = endpoint({}, { credentials: [secret('old-user:old-password'), secret(CREDENTIALS)] });
    const payload = v2Payload('person', 'create', person(5, 'Rot', 'r@example.com'));
    expect((await webhook(delivery(payload, 'old-user:old-password'))).status).toBe(200);
    expect((await webhook(delivery(v2Payload('person', 'create', person(6, 'R', 'r@x.io')), CREDENTIALS))).status).toBe(
      200,
    );
  });

  it('refuses bad options with a typed error', () => {
    const inbox = memoryInbox();
    const bad: unknown[] = [
      undefined,
      { inbox },
      { inbox, credentials: 'no-colon' },
      { inbox, credentials: ':password' },
      { inbox, credentials: [] },
      { inbox, credentials: CREDENTIALS, on: { 'person.change': 'nope' } },
      { inbox, credentials: CREDENTIALS, on: {}, skipStale: 'yes' },
    ];
    for (const options of bad) {
      let caught: unknown;
      try {
        pipedriveWebhooks(options as PipedriveWebhooksOptions);
      } catch (error) {
        caught = error;
      }
      expect(isPipedriveWebhookError(caught), JSON.stringify(options)).toBe(true);
      expect((caught as { code: string }).code).toBe('invalid_options');
    }
  });

  it('answers before any handler finishes: a slow handler does not hold the 200', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { webhook, inbox } = endpoint({ '*': () => gate });
    const res = await webhook(delivery(v2Payload('person', 'create', person(8, 'Slow', 's@example.com')), CREDENTIALS));
    expect(res.status).toBe(200);
    expect((await inbox.counts()).total).toBe(1);
    release();
  });
});

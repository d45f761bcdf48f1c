import { describe, expect, expectTypeOf, it } from 'vitest';
import { isStripeUsageError } from './errors';
import { isTypedEventType, parseStripeEvent, type StripeEvent } from './events';
import type { StripeEventHandlers } from './webhooks';

const envelope = (type: string, object: Record<string, unknown>) => ({
  id: 'evt_1',
  object: 'event',
  api_version: '2026-10-28.endive',
  created: 1_700_000_000,
  livemode: false,
  pending_webhooks: 1,
  request: { id: 'req_1', idempotency_key: 'k' },
  type,
  data: { object },
});

const intent = {
  id: 'pi_1',
  object: 'payment_intent',
  amount: 500,
  currency: 'usd',
  status: 'succeeded',
  created: 1,
  extra: { kept: true },
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isStripeUsageError(error) ? error.code : `untyped: ${String(error)}`;
  }
  return undefined;
}

describe('parseStripeEvent', () => {
  it('parses a known type and keeps fields the schema does not name', () => {
    const event = parseStripeEvent(envelope('payment_intent.succeeded', intent));
    expect(event.type).toBe('payment_intent.succeeded');
    expect((event.data.object as Record<string, unknown>).extra).toEqual({ kept: true });
    expect(event.request).toEqual({ id: 'req_1', idempotency_key: 'k' });
  });

  it('passes an unknown type through with only the envelope checked', () => {
    const event = parseStripeEvent(envelope('issuing_card.created', { id: 'ic_1', anything: [1, 2] }));
    expect(event.data.object).toEqual({ id: 'ic_1', anything: [1, 2] });
    expect(isTypedEventType('issuing_card.created')).toBe(false);
    expect(isTypedEventType('customer.subscription.updated')).toBe(true);
    expect(isTypedEventType('charge.dispute.created')).toBe(false);
  });

  it('routes customer.subscription.* to the subscription schema, not the customer one', () => {
    expect(
      code(() =>
        parseStripeEvent(envelope('customer.subscription.created', { id: 'cus_1', object: 'customer', created: 1 })),
      ),
    ).toBe('invalid_event');
  });

  it('normalizes a missing request and api_version to null', () => {
    const {
      request: _r,
      api_version: _v,
      ...bare
    } = envelope('customer.created', { id: 'cus_1', object: 'customer', created: 1 });
    const event = parseStripeEvent(bare);
    expect(event.request).toBeNull();
    expect(event.api_version).toBeNull();
  });

  it.each([
    [
      'a thin v2 event',
      { id: 'evt_1', object: 'v2.core.event', type: 'v1.billing.meter.error_report_triggered' },
      'thin_event',
    ],
    ['null', null, 'invalid_event'],
    ['a string', 'evt_1', 'invalid_event'],
    ['no id', { ...envelope('customer.created', {}), id: '' }, 'invalid_event'],
    ['not an event object', { ...envelope('customer.created', {}), object: 'customer' }, 'invalid_event'],
    ['created as a string', { ...envelope('customer.created', {}), created: '1700000000' }, 'invalid_event'],
    ['no data.object', { ...envelope('customer.created', {}), data: {} }, 'invalid_event'],
    [
      'a known type with a bad object',
      envelope('payment_intent.succeeded', { ...intent, amount: '5' }),
      'invalid_event',
    ],
    ['a known type with the wrong object kind', envelope('invoice.paid', intent), 'invalid_event'],
  ])('rejects %s with %s', (_name, payload, expected) => {
    expect(code(() => parseStripeEvent(payload))).toBe(expected);
  });

  it('types handlers by event type', () => {
    const handlers: StripeEventHandlers = {
      'invoice.paid': (event) => {
        expectTypeOf(event.data.object.amount_paid).toEqualTypeOf<number>();
      },
      'checkout.session.completed': (event) => {
        expectTypeOf(event.data.object.payment_status).toEqualTypeOf<'paid' | 'unpaid' | 'no_payment_required'>();
      },
      'some.future.event': (event) => {
        expectTypeOf(event.data.object).toEqualTypeOf<{ [field: string]: unknown }>();
      },
    };
    expect(Object.keys(handlers)).toHaveLength(3);
    expectTypeOf<StripeEvent<'charge.refunded'>['data']['object']['refunded']>().toEqualTypeOf<boolean | undefined>();
  });
});

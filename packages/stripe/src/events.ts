import { z } from 'zod';
import { StripeUsageError } from './errors';

/*
 * Schemas of the objects carried by the common events. They check the fields
 * an integration branches on and keep every other field (loose objects), so a
 * newer API version that adds fields still parses.
 */

const id = (prefix: string) => z.string().startsWith(prefix);
const metadata = z.record(z.string(), z.string());
/** An expandable reference: an id, or the expanded object with its id. */
const ref = z.union([z.string(), z.looseObject({ id: z.string() })]);

/** A Customer, as carried by `customer.*` events. */
export const customerSchema = z.looseObject({
  id: id('cus_'),
  object: z.literal('customer'),
  created: z.number().int(),
  email: z.string().nullable().optional(),
  name: z.string().nullable().optional(),
  metadata: metadata.optional(),
  livemode: z.boolean().optional(),
  deleted: z.boolean().optional(),
});

/** A PaymentIntent, as carried by `payment_intent.*` events. */
export const paymentIntentSchema = z.looseObject({
  id: id('pi_'),
  object: z.literal('payment_intent'),
  amount: z.number().int(),
  amount_received: z.number().int().optional(),
  currency: z.string(),
  status: z.string(),
  customer: ref.nullable().optional(),
  latest_charge: ref.nullable().optional(),
  metadata: metadata.optional(),
  created: z.number().int(),
  livemode: z.boolean().optional(),
});

/** A Charge, as carried by `charge.*` events. */
export const chargeSchema = z.looseObject({
  id: z.string().regex(/^(ch|py)_/),
  object: z.literal('charge'),
  amount: z.number().int(),
  currency: z.string(),
  status: z.string(),
  paid: z.boolean().optional(),
  refunded: z.boolean().optional(),
  payment_intent: ref.nullable().optional(),
  customer: ref.nullable().optional(),
  metadata: metadata.optional(),
  created: z.number().int(),
  livemode: z.boolean().optional(),
});

/** A Subscription, as carried by `customer.subscription.*` events. */
export const subscriptionSchema = z.looseObject({
  id: id('sub_'),
  object: z.literal('subscription'),
  status: z.string(),
  customer: ref,
  items: z.looseObject({
    data: z.array(
      z.looseObject({
        id: z.string(),
        price: z.looseObject({ id: z.string() }),
        quantity: z.number().int().optional(),
      }),
    ),
  }),
  cancel_at_period_end: z.boolean().optional(),
  canceled_at: z.number().int().nullable().optional(),
  metadata: metadata.optional(),
  created: z.number().int(),
  livemode: z.boolean().optional(),
});

/** An Invoice, as carried by `invoice.*` events (an upcoming invoice has no id). */
export const invoiceSchema = z.looseObject({
  id: z.string().optional(),
  object: z.literal('invoice'),
  status: z.string().nullable(),
  customer: ref.nullable(),
  currency: z.string(),
  amount_due: z.number().int(),
  amount_paid: z.number().int(),
  total: z.number().int().optional(),
  metadata: metadata.nullable().optional(),
  created: z.number().int(),
  livemode: z.boolean().optional(),
});

/** A Checkout Session, as carried by `checkout.session.*` events. */
export const checkoutSessionSchema = z.looseObject({
  id: id('cs_'),
  object: z.literal('checkout.session'),
  mode: z.enum(['payment', 'setup', 'subscription']),
  status: z.enum(['open', 'complete', 'expired']).nullable(),
  payment_status: z.enum(['paid', 'unpaid', 'no_payment_required']),
  customer: ref.nullable(),
  customer_email: z.string().nullable().optional(),
  client_reference_id: z.string().nullable(),
  amount_total: z.number().int().nullable(),
  currency: z.string().nullable(),
  payment_intent: ref.nullable(),
  subscription: ref.nullable().optional(),
  metadata: metadata.nullable().optional(),
  created: z.number().int(),
  livemode: z.boolean().optional(),
});

/** A Stripe Customer (the fields Ballast checks; all others are kept). */
export type StripeCustomer = z.infer<typeof customerSchema>;
/** A Stripe PaymentIntent (the fields Ballast checks; all others are kept). */
export type StripePaymentIntent = z.infer<typeof paymentIntentSchema>;
/** A Stripe Charge (the fields Ballast checks; all others are kept). */
export type StripeCharge = z.infer<typeof chargeSchema>;
/** A Stripe Subscription (the fields Ballast checks; all others are kept). */
export type StripeSubscription = z.infer<typeof subscriptionSchema>;
/** A Stripe Invoice (the fields Ballast checks; all others are kept). */
export type StripeInvoice = z.infer<typeof invoiceSchema>;
/** A Stripe Checkout Session (the fields Ballast checks; all others are kept). */
export type StripeCheckoutSession = z.infer<typeof checkoutSessionSchema>;

/** Event types with a typed `data.object`, each mapped to its object's type. */
export interface StripeEventObjects {
  'payment_intent.created': StripePaymentIntent;
  'payment_intent.succeeded': StripePaymentIntent;
  'payment_intent.payment_failed': StripePaymentIntent;
  'payment_intent.canceled': StripePaymentIntent;
  'payment_intent.processing': StripePaymentIntent;
  'payment_intent.requires_action': StripePaymentIntent;
  'payment_intent.amount_capturable_updated': StripePaymentIntent;
  'payment_intent.partially_funded': StripePaymentIntent;
  'charge.succeeded': StripeCharge;
  'charge.failed': StripeCharge;
  'charge.pending': StripeCharge;
  'charge.captured': StripeCharge;
  'charge.refunded': StripeCharge;
  'charge.updated': StripeCharge;
  'charge.expired': StripeCharge;
  'customer.created': StripeCustomer;
  'customer.updated': StripeCustomer;
  'customer.deleted': StripeCustomer;
  'customer.subscription.created': StripeSubscription;
  'customer.subscription.updated': StripeSubscription;
  'customer.subscription.deleted': StripeSubscription;
  'customer.subscription.paused': StripeSubscription;
  'customer.subscription.resumed': StripeSubscription;
  'customer.subscription.trial_will_end': StripeSubscription;
  'customer.subscription.pending_update_applied': StripeSubscription;
  'customer.subscription.pending_update_expired': StripeSubscription;
  'invoice.created': StripeInvoice;
  'invoice.deleted': StripeInvoice;
  'invoice.finalized': StripeInvoice;
  'invoice.finalization_failed': StripeInvoice;
  'invoice.marked_uncollectible': StripeInvoice;
  'invoice.overdue': StripeInvoice;
  'invoice.paid': StripeInvoice;
  'invoice.payment_action_required': StripeInvoice;
  'invoice.payment_failed': StripeInvoice;
  'invoice.payment_succeeded': StripeInvoice;
  'invoice.sent': StripeInvoice;
  'invoice.upcoming': StripeInvoice;
  'invoice.updated': StripeInvoice;
  'invoice.voided': StripeInvoice;
  'invoice.will_be_due': StripeInvoice;
  'checkout.session.completed': StripeCheckoutSession;
  'checkout.session.async_payment_succeeded': StripeCheckoutSession;
  'checkout.session.async_payment_failed': StripeCheckoutSession;
  'checkout.session.expired': StripeCheckoutSession;
}

/** An event type whose `data.object` Ballast parses and types. */
export type StripeTypedEventType = keyof StripeEventObjects;

const schemaOf = (type: string): z.ZodType | undefined => {
  if (type.startsWith('customer.subscription.')) return subscriptionSchema;
  if (type.startsWith('payment_intent.')) return paymentIntentSchema;
  if (type.startsWith('checkout.session.')) return checkoutSessionSchema;
  if (type.startsWith('invoice.')) return invoiceSchema;
  if (type.startsWith('charge.') && !type.startsWith('charge.dispute.')) return chargeSchema;
  if (type === 'customer.created' || type === 'customer.updated' || type === 'customer.deleted') return customerSchema;
  return undefined;
};

/** Fields every Stripe (v1, snapshot) event carries. */
export interface StripeEventEnvelope<Type extends string, Object> {
  /** `evt_…`: the key deliveries are deduplicated on. */
  id: string;
  object: 'event';
  type: Type;
  /** Unix seconds when the event happened. */
  created: number;
  livemode: boolean;
  /** The API version `data` was rendered with. */
  api_version: string | null;
  /** The connected account, for Connect events. */
  account?: string;
  pending_webhooks?: number;
  /** The API request that caused it (`id` is null for automatic events). */
  request: { id: string | null; idempotency_key: string | null } | null;
  data: {
    /** The object as it was when the event happened. */
    object: Object;
    /** On `*.updated` events, the changed fields' previous values. */
    previous_attributes?: Record<string, unknown>;
  };
}

/** A parsed event of a type with a typed object. */
export type StripeEvent<Type extends StripeTypedEventType = StripeTypedEventType> = {
  [T in Type]: StripeEventEnvelope<T, StripeEventObjects[T]>;
}[Type];

/** An event of any other type: the envelope is checked, `data.object` is passed through untyped. */
export type StripeUntypedEvent = StripeEventEnvelope<string, { [field: string]: unknown }>;

/** Any parsed event. */
export type StripeAnyEvent = StripeEvent | StripeUntypedEvent;

const envelopeSchema = z.looseObject({
  id: z.string().min(1),
  object: z.literal('event'),
  type: z.string().min(1),
  created: z.number().int(),
  livemode: z.boolean(),
  api_version: z.string().nullable().optional(),
  account: z.string().optional(),
  pending_webhooks: z.number().int().optional(),
  request: z
    .looseObject({ id: z.string().nullable().optional(), idempotency_key: z.string().nullable().optional() })
    .nullable()
    .optional(),
  data: z.looseObject({
    object: z.looseObject({}),
    previous_attributes: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** True when `type` is one whose object Ballast types. */
export function isTypedEventType(type: string): type is StripeTypedEventType {
  return schemaOf(type) !== undefined;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}

type Envelope = z.infer<typeof envelopeSchema>;

/**
 * Checks the envelope of a Stripe snapshot event, not its object: what an
 * endpoint checks before storing a delivery.
 * @throws StripeUsageError `thin_event` or `invalid_event`.
 * @internal
 */
export function checkStripeEnvelope(payload: unknown, api = 'parseStripeEvent'): Envelope {
  if (typeof payload === 'object' && payload !== null && (payload as { object?: unknown }).object === 'v2.core.event') {
    throw new StripeUsageError(
      api,
      'thin_event',
      'this is a thin event (object v2.core.event): it carries no snapshot. Handle thin events from an event destination with a v2 client, not with stripeWebhooks',
    );
  }
  const envelope = envelopeSchema.safeParse(payload);
  if (!envelope.success) {
    throw new StripeUsageError(api, 'invalid_event', `not a Stripe event: ${describeIssues(envelope.error)}`, {
      cause: envelope.error,
    });
  }
  return envelope.data;
}

/**
 * Checks a (verified) payload as a Stripe snapshot event and returns it typed:
 * the envelope always, and `data.object` for the common event types.
 *
 * @throws StripeUsageError `thin_event` for a thin `v2.core.event` payload
 *   (fetch the object through the API instead: thin events carry no snapshot),
 *   `invalid_event` for anything else that is not a valid Stripe event.
 * @example
 * ```ts
 * const event = parseStripeEvent(JSON.parse(body));
 * if (event.type === 'invoice.paid') console.log(event.data.object.amount_paid);
 * ```
 */
export function parseStripeEvent(payload: unknown): StripeAnyEvent {
  const envelope = checkStripeEnvelope(payload);
  const schema = schemaOf(envelope.type);
  if (schema) {
    const object = schema.safeParse(envelope.data.object);
    if (!object.success) {
      throw new StripeUsageError(
        'parseStripeEvent',
        'invalid_event',
        `${envelope.type} ${envelope.id}: data.object does not match: ${describeIssues(object.error)}`,
        { cause: object.error },
      );
    }
  }
  return {
    ...envelope,
    api_version: envelope.api_version ?? null,
    request: envelope.request
      ? { id: envelope.request.id ?? null, idempotency_key: envelope.request.idempotency_key ?? null }
      : null,
  } as StripeAnyEvent;
}

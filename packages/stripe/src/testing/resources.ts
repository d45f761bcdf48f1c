import type { FormValue } from '../form';
import {
  allowOnly,
  bool,
  FakeApiError,
  int,
  invalid,
  type Json,
  type JsonObject,
  list,
  mergeMetadata,
  obj,
  type Params,
  str,
} from './params';
import { allOf, createdFilter, type FakeStore, type Filter } from './store';

/** What a resource handler may use from the fake. */
export interface ResourceContext {
  readonly store: FakeStore;
  readonly livemode: boolean;
  /** The current time in unix seconds. */
  now(): number;
  /** A new object id with Stripe's prefix, e.g. `cus_…`. */
  id(prefix: string): string;
  /** Records an event about `object` (a snapshot is taken). */
  emit(type: string, object: JsonObject, previous?: JsonObject): void;
  /** Line items of the Checkout Sessions created so far (not part of the API object). */
  readonly sessionItems: Map<string, LineItem[]>;
}

/** A price and quantity on a subscription or a Checkout Session. */
export interface LineItem {
  price: JsonObject;
  quantity: number;
}

/** One endpoint of the fake. */
export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  pattern: RegExp;
  handle(ctx: ResourceContext, params: Params, args: string[], url: string): JsonObject;
}

const CURRENCY = /^[a-z]{3}$/;

function currency(params: Params, name = 'currency', required = true): string | undefined {
  const value = str(params, name, required);
  if (value !== undefined && !CURRENCY.test(value)) throw invalid(`Invalid currency: ${value}.`, name);
  return value;
}

function update(ctx: ResourceContext, object: JsonObject, changes: JsonObject, type: string | null): JsonObject {
  const previous: JsonObject = {};
  for (const [key, value] of Object.entries(changes)) {
    if (JSON.stringify(object[key]) !== JSON.stringify(value)) previous[key] = object[key] ?? null;
  }
  const next = { ...object, ...changes };
  ctx.store.put(next);
  if (type && Object.keys(previous).length > 0) ctx.emit(type, next, previous);
  return next;
}

function eq(field: string, value: string | undefined): Filter | undefined {
  return value === undefined ? undefined : (o) => o[field] === value;
}

// ---------------------------------------------------------------- customers

function createCustomer(ctx: ResourceContext, params: Params): JsonObject {
  allowOnly(params, ['email', 'name', 'description', 'phone', 'metadata']);
  const customer: JsonObject = {
    id: ctx.id('cus'),
    object: 'customer',
    balance: 0,
    created: ctx.now(),
    currency: null,
    description: str(params, 'description') ?? null,
    email: str(params, 'email') ?? null,
    livemode: ctx.livemode,
    metadata: mergeMetadata(undefined, params),
    name: str(params, 'name') ?? null,
    phone: str(params, 'phone') ?? null,
  };
  ctx.store.put(customer);
  ctx.emit('customer.created', customer);
  return customer;
}

function updateCustomer(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['email', 'name', 'description', 'phone', 'metadata']);
  const customer = ctx.store.require('customer', id as string);
  const changes: JsonObject = { metadata: mergeMetadata(customer.metadata, params) };
  for (const field of ['email', 'name', 'description', 'phone'])
    if (params[field] !== undefined) changes[field] = str(params, field) ?? null;
  return update(ctx, customer, changes, 'customer.updated');
}

function deleteCustomer(ctx: ResourceContext, _params: Params, [id]: string[]): JsonObject {
  const customer = ctx.store.require('customer', id as string);
  ctx.store.put({ ...customer, deleted: true });
  ctx.emit('customer.deleted', customer);
  return { id: customer.id as string, object: 'customer', deleted: true };
}

// --------------------------------------------------------- products, prices

function createProduct(ctx: ResourceContext, params: Params): JsonObject {
  allowOnly(params, ['name', 'description', 'active', 'metadata', 'id']);
  const now = ctx.now();
  const product: JsonObject = {
    id: str(params, 'id') ?? ctx.id('prod'),
    object: 'product',
    active: bool(params, 'active') ?? true,
    created: now,
    default_price: null,
    description: str(params, 'description') ?? null,
    livemode: ctx.livemode,
    metadata: mergeMetadata(undefined, params),
    name: str(params, 'name', true) as string,
    updated: now,
  };
  if (ctx.store.get(product.id as string)) throw invalid('Product already exists.', 'id', 'resource_already_exists');
  ctx.store.put(product);
  ctx.emit('product.created', product);
  return product;
}

function updateProduct(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['name', 'description', 'active', 'metadata']);
  const product = ctx.store.require('product', id as string);
  const changes: JsonObject = { metadata: mergeMetadata(product.metadata, params), updated: ctx.now() };
  if (params.name !== undefined) changes.name = str(params, 'name', true) as string;
  if (params.description !== undefined) changes.description = str(params, 'description') ?? null;
  if (params.active !== undefined) changes.active = bool(params, 'active') ?? true;
  return update(ctx, product, changes, 'product.updated');
}

function createPrice(ctx: ResourceContext, params: Params): JsonObject {
  allowOnly(params, [
    'currency',
    'unit_amount',
    'product',
    'product_data',
    'recurring',
    'nickname',
    'metadata',
    'active',
    'lookup_key',
  ]);
  const cur = currency(params) as string;
  const unitAmount = int(params, 'unit_amount', { required: true, min: 0 }) as number;
  let productId = str(params, 'product');
  const productData = obj(params, 'product_data');
  if (!productId && !productData) throw invalid('Missing required param: product.', 'product', 'parameter_missing');
  if (productId) ctx.store.require('product', productId, 'product');
  else productId = createProduct(ctx, productData as Params).id as string;
  const recurring = obj(params, 'recurring');
  let recurringJson: Json = null;
  if (recurring) {
    const interval = str(recurring, 'interval', true) as string;
    if (!['day', 'week', 'month', 'year'].includes(interval))
      throw invalid(`Invalid interval: ${interval}`, 'recurring[interval]');
    recurringJson = {
      interval,
      interval_count: int(recurring, 'interval_count', { min: 1 }) ?? 1,
      usage_type: 'licensed',
    };
  }
  const price: JsonObject = {
    id: ctx.id('price'),
    object: 'price',
    active: bool(params, 'active') ?? true,
    billing_scheme: 'per_unit',
    created: ctx.now(),
    currency: cur,
    livemode: ctx.livemode,
    lookup_key: str(params, 'lookup_key') ?? null,
    metadata: mergeMetadata(undefined, params),
    nickname: str(params, 'nickname') ?? null,
    product: productId,
    recurring: recurringJson,
    type: recurring ? 'recurring' : 'one_time',
    unit_amount: unitAmount,
    unit_amount_decimal: String(unitAmount),
  };
  ctx.store.put(price);
  ctx.emit('price.created', price);
  return price;
}

function updatePrice(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['active', 'nickname', 'metadata', 'lookup_key']);
  const price = ctx.store.require('price', id as string);
  const changes: JsonObject = { metadata: mergeMetadata(price.metadata, params) };
  if (params.active !== undefined) changes.active = bool(params, 'active') ?? true;
  if (params.nickname !== undefined) changes.nickname = str(params, 'nickname') ?? null;
  if (params.lookup_key !== undefined) changes.lookup_key = str(params, 'lookup_key') ?? null;
  return update(ctx, price, changes, 'price.updated');
}

// ------------------------------------------------------------ payments

function createCharge(ctx: ResourceContext, intent: JsonObject): JsonObject {
  const charge: JsonObject = {
    id: ctx.id('ch'),
    object: 'charge',
    amount: intent.amount as number,
    amount_captured: intent.amount as number,
    captured: true,
    created: ctx.now(),
    currency: intent.currency as string,
    customer: intent.customer ?? null,
    livemode: ctx.livemode,
    metadata: {},
    paid: true,
    payment_intent: intent.id as string,
    refunded: false,
    status: 'succeeded',
  };
  ctx.store.put(charge);
  ctx.emit('charge.succeeded', charge);
  return charge;
}

function succeedIntent(ctx: ResourceContext, intent: JsonObject): JsonObject {
  if (intent.status === 'succeeded')
    throw invalid('This PaymentIntent has already succeeded.', undefined, 'payment_intent_unexpected_state');
  const charge = createCharge(ctx, intent);
  return update(
    ctx,
    intent,
    { status: 'succeeded', amount_received: intent.amount ?? 0, latest_charge: charge.id as string },
    'payment_intent.succeeded',
  );
}

function newIntent(
  ctx: ResourceContext,
  fields: { amount: number; currency: string; customer: Json; metadata: JsonObject },
): JsonObject {
  const id = ctx.id('pi');
  const intent: JsonObject = {
    id,
    object: 'payment_intent',
    amount: fields.amount,
    amount_received: 0,
    client_secret: `${id}_secret_${ctx.id('x').slice(2, 14)}`,
    created: ctx.now(),
    currency: fields.currency,
    customer: fields.customer,
    latest_charge: null,
    livemode: ctx.livemode,
    metadata: fields.metadata,
    payment_method_types: ['card'],
    status: 'requires_payment_method',
  };
  ctx.store.put(intent);
  ctx.emit('payment_intent.created', intent);
  return intent;
}

function createIntent(ctx: ResourceContext, params: Params): JsonObject {
  allowOnly(params, ['amount', 'currency', 'customer', 'metadata', 'confirm', 'payment_method', 'description']);
  const amount = int(params, 'amount', { required: true, min: 1 }) as number;
  const cur = currency(params) as string;
  const customer = str(params, 'customer');
  if (customer) ctx.store.require('customer', customer, 'customer');
  const intent = newIntent(ctx, {
    amount,
    currency: cur,
    customer: customer ?? null,
    metadata: mergeMetadata(undefined, params),
  });
  if (bool(params, 'confirm')) return succeedIntent(ctx, intent);
  return intent;
}

function updateIntent(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['amount', 'metadata', 'description']);
  const intent = ctx.store.require('payment_intent', id as string);
  const changes: JsonObject = { metadata: mergeMetadata(intent.metadata, params) };
  if (params.amount !== undefined) changes.amount = int(params, 'amount', { min: 1 }) as number;
  // Stripe has no payment_intent.updated event.
  return update(ctx, intent, changes, null);
}

function confirmIntent(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['payment_method', 'return_url']);
  return succeedIntent(ctx, ctx.store.require('payment_intent', id as string));
}

function cancelIntent(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['cancellation_reason']);
  const intent = ctx.store.require('payment_intent', id as string);
  if (intent.status === 'succeeded' || intent.status === 'canceled')
    throw invalid(
      `You cannot cancel this PaymentIntent because it has a status of ${intent.status}.`,
      undefined,
      'payment_intent_unexpected_state',
    );
  return update(
    ctx,
    intent,
    { status: 'canceled', canceled_at: ctx.now(), cancellation_reason: str(params, 'cancellation_reason') ?? null },
    'payment_intent.canceled',
  );
}

// ------------------------------------------------ subscriptions, invoices

function lineItems(ctx: ResourceContext, items: FormValue[], param: string): LineItem[] {
  if (items.length === 0) throw invalid(`Missing required param: ${param}.`, param, 'parameter_missing');
  return items.map((raw, i) => {
    if (typeof raw !== 'object' || Array.isArray(raw)) throw invalid('Invalid object', `${param}[${i}]`);
    const priceId = str(raw, 'price');
    const priceData = obj(raw, 'price_data');
    let price: JsonObject;
    if (priceId) price = ctx.store.require('price', priceId, `${param}[${i}][price]`);
    else if (priceData) {
      const productData = obj(priceData, 'product_data');
      const productId = str(priceData, 'product');
      const params: Params = {
        currency: str(priceData, 'currency', true) as string,
        unit_amount: str(priceData, 'unit_amount', true) as string,
      };
      if (productId) params.product = productId;
      else if (productData) params.product_data = productData;
      else
        throw invalid(
          'Missing required param: product_data.',
          `${param}[${i}][price_data][product_data]`,
          'parameter_missing',
        );
      const recurring = obj(priceData, 'recurring');
      if (recurring) params.recurring = recurring;
      price = createPrice(ctx, params);
    } else throw invalid('Missing required param: price.', `${param}[${i}][price]`, 'parameter_missing');
    if (price.active === false)
      throw invalid(`The price ${price.id as string} is not active.`, `${param}[${i}][price]`);
    return { price, quantity: int(raw, 'quantity', { min: 1 }) ?? 1 };
  });
}

function createInvoice(ctx: ResourceContext, subscription: JsonObject, amount: number): JsonObject {
  const now = ctx.now();
  const invoice: JsonObject = {
    id: ctx.id('in'),
    object: 'invoice',
    amount_due: amount,
    amount_paid: 0,
    amount_remaining: amount,
    billing_reason: 'subscription_create',
    created: now,
    currency: subscription.currency as string,
    customer: subscription.customer as string,
    livemode: ctx.livemode,
    metadata: {},
    parent: {
      type: 'subscription_details',
      subscription_details: { subscription: subscription.id as string, metadata: {} },
    },
    period_end: now,
    period_start: now,
    status: 'draft',
    total: amount,
  };
  ctx.store.put(invoice);
  ctx.emit('invoice.created', invoice);
  const finalized = update(ctx, invoice, { status: 'open' }, 'invoice.finalized');
  const paid = update(ctx, finalized, { status: 'paid', amount_paid: amount, amount_remaining: 0 }, 'invoice.paid');
  ctx.emit('invoice.payment_succeeded', paid);
  return paid;
}

function newSubscription(ctx: ResourceContext, customer: string, items: LineItem[], metadata: JsonObject): JsonObject {
  const id = ctx.id('sub');
  const now = ctx.now();
  const first = items[0]?.price as JsonObject;
  for (const [i, item] of items.entries()) {
    if (item.price.type !== 'recurring')
      throw invalid(
        'The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.',
        `items[${i}][price]`,
      );
    if (item.price.currency !== first.currency)
      throw invalid('All prices must use the same currency.', `items[${i}][price]`);
  }
  const subscription: JsonObject = {
    id,
    object: 'subscription',
    cancel_at_period_end: false,
    canceled_at: null,
    created: now,
    currency: first.currency as string,
    customer,
    items: {
      object: 'list',
      data: items.map((item) => ({
        id: ctx.id('si'),
        object: 'subscription_item',
        created: now,
        price: item.price,
        quantity: item.quantity,
        subscription: id,
      })),
      has_more: false,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    livemode: ctx.livemode,
    metadata,
    start_date: now,
    status: 'active',
  };
  ctx.store.put(subscription);
  ctx.emit('customer.subscription.created', subscription);
  const amount = items.reduce((sum, item) => sum + (item.price.unit_amount as number) * item.quantity, 0);
  const invoice = createInvoice(ctx, subscription, amount);
  const withInvoice = { ...subscription, latest_invoice: invoice.id as string };
  ctx.store.put(withInvoice);
  return withInvoice;
}

function createSubscription(ctx: ResourceContext, params: Params): JsonObject {
  allowOnly(params, ['customer', 'items', 'metadata', 'cancel_at_period_end']);
  const customer = str(params, 'customer', true) as string;
  ctx.store.require('customer', customer, 'customer');
  return newSubscription(
    ctx,
    customer,
    lineItems(ctx, list(params, 'items'), 'items'),
    mergeMetadata(undefined, params),
  );
}

function updateSubscription(ctx: ResourceContext, params: Params, [id]: string[]): JsonObject {
  allowOnly(params, ['metadata', 'cancel_at_period_end']);
  const subscription = ctx.store.require('subscription', id as string);
  const changes: JsonObject = { metadata: mergeMetadata(subscription.metadata, params) };
  if (params.cancel_at_period_end !== undefined)
    changes.cancel_at_period_end = bool(params, 'cancel_at_period_end') ?? false;
  return update(ctx, subscription, changes, 'customer.subscription.updated');
}

function cancelSubscription(ctx: ResourceContext, _params: Params, [id]: string[]): JsonObject {
  const subscription = ctx.store.require('subscription', id as string);
  if (subscription.status === 'canceled') throw invalid(`No such subscription: '${id}'`, 'id', 'resource_missing');
  const next = { ...subscription, status: 'canceled', canceled_at: ctx.now(), ended_at: ctx.now() };
  ctx.store.put(next);
  ctx.emit('customer.subscription.deleted', next);
  return next;
}

// ----------------------------------------------------------- checkout

function createSession(ctx: ResourceContext, params: Params): JsonObject {
  allowOnly(params, [
    'mode',
    'line_items',
    'success_url',
    'cancel_url',
    'customer',
    'customer_email',
    'client_reference_id',
    'metadata',
    'ui_mode',
    'return_url',
    'payment_intent_data',
  ]);
  const mode = str(params, 'mode', true) as string;
  if (!['payment', 'subscription', 'setup'].includes(mode)) throw invalid(`Invalid mode: ${mode}`, 'mode');
  const customer = str(params, 'customer');
  if (customer) ctx.store.require('customer', customer, 'customer');
  const items = mode === 'setup' ? [] : lineItems(ctx, list(params, 'line_items'), 'line_items');
  if (mode === 'subscription')
    items.forEach((item, i) => {
      if (item.price.type !== 'recurring')
        throw invalid(
          'You must provide at least one recurring price in `subscription` mode when using prices.',
          `line_items[${i}][price]`,
        );
    });
  const amount = items.reduce((sum, item) => sum + (item.price.unit_amount as number) * item.quantity, 0);
  const id = `cs_${ctx.livemode ? 'live' : 'test'}_${ctx.id('x').slice(2)}`;
  const now = ctx.now();
  const session: JsonObject = {
    id,
    object: 'checkout.session',
    amount_subtotal: amount,
    amount_total: amount,
    client_reference_id: str(params, 'client_reference_id') ?? null,
    created: now,
    currency: (items[0]?.price.currency as string | undefined) ?? null,
    customer: customer ?? null,
    customer_email: str(params, 'customer_email') ?? null,
    expires_at: now + 24 * 3600,
    livemode: ctx.livemode,
    metadata: mergeMetadata(undefined, params),
    mode,
    payment_intent: null,
    payment_status: mode === 'setup' ? 'no_payment_required' : 'unpaid',
    status: 'open',
    subscription: null,
    success_url: str(params, 'success_url') ?? null,
    cancel_url: str(params, 'cancel_url') ?? null,
    url: `https://checkout.stripe.com/c/pay/${id}`,
  };
  ctx.sessionItems.set(id, items);
  ctx.store.put(session);
  return session;
}

function expireSession(ctx: ResourceContext, _params: Params, [id]: string[]): JsonObject {
  const session = ctx.store.require('checkout.session', id as string);
  if (session.status !== 'open')
    throw invalid(
      `Only Checkout Sessions with a status in ["open"] can be expired.`,
      undefined,
      'checkout_session_unexpected_state',
    );
  const next = { ...session, status: 'expired', url: null };
  ctx.store.put(next);
  ctx.emit('checkout.session.expired', next);
  return next;
}

/**
 * Completes an open Checkout Session as if the customer paid: creates the
 * customer (when needed), the PaymentIntent and charge (payment mode) or the
 * subscription and invoice (subscription mode), and emits the events Stripe
 * would, ending with `checkout.session.completed`.
 */
export function completeSession(ctx: ResourceContext, id: string): JsonObject {
  const items = ctx.sessionItems.get(id) ?? [];
  const session = ctx.store.require('checkout.session', id);
  if (session.status !== 'open') throw invalid(`Checkout Session ${id} is ${session.status as string}, not open.`);
  let customer = session.customer as string | null;
  if (!customer)
    customer = createCustomer(ctx, session.customer_email ? { email: session.customer_email as string } : {})
      .id as string;
  const changes: JsonObject = { status: 'complete', customer, url: null };
  if (session.mode === 'payment') {
    const intent = newIntent(ctx, {
      amount: session.amount_total as number,
      currency: session.currency as string,
      customer,
      metadata: {},
    });
    succeedIntent(ctx, intent);
    changes.payment_intent = intent.id as string;
    changes.payment_status = 'paid';
  } else if (session.mode === 'subscription') {
    const subscription = newSubscription(ctx, customer, items, {});
    changes.subscription = subscription.id as string;
    changes.payment_status = 'paid';
  }
  const next = { ...session, ...changes };
  ctx.store.put(next);
  ctx.emit('checkout.session.completed', next);
  return next;
}

// ------------------------------------------------------------- lists

function listOf(kind: string, allowed: string[], filters: (params: Params) => Filter | undefined = () => undefined) {
  return (ctx: ResourceContext, params: Params, _args: string[], url: string): JsonObject => {
    allowOnly(params, ['limit', 'starting_after', 'ending_before', 'created', ...allowed]);
    return ctx.store.page(kind, url, params, allOf(createdFilter(params), filters(params)));
  };
}

function retrieve(kind: string, label = kind.replaceAll('_', ' ')) {
  return (ctx: ResourceContext, params: Params, [id]: string[]): JsonObject => {
    allowOnly(params, []);
    return ctx.store.require(label, id as string);
  };
}

/** Reads the events list filters: `type` (with `*` wildcards) or `types[]`, and `delivery_success`. */
function eventFilter(params: Params, pending: (event: JsonObject) => boolean): Filter | undefined {
  const type = str(params, 'type');
  const types = list(params, 'types');
  if (type && types.length > 0) throw invalid('You may only specify one of these parameters: type, types.', 'types');
  if (types.length > 20) throw invalid('You may pass at most 20 types.', 'types');
  const patterns = (type ? [type] : types).map((t, i) => {
    if (typeof t !== 'string') throw invalid('Invalid array', `types[${i}]`);
    return new RegExp(`^${t.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
  });
  const delivered = bool(params, 'delivery_success');
  return (event) =>
    (patterns.length === 0 || patterns.some((p) => p.test(event.type as string))) &&
    (delivered === undefined || pending(event) !== delivered);
}

/** Builds the fake's route table. */
export function routes(
  eventsPending: (event: JsonObject) => boolean,
  windowSeconds: number,
  nowSeconds: () => number,
): Route[] {
  const id = '([A-Za-z0-9_]+)';
  const r = (method: Route['method'], path: string, handle: Route['handle']): Route => ({
    method,
    pattern: new RegExp(`^${path}$`),
    handle,
  });
  return [
    r('POST', '/v1/customers', createCustomer),
    r(
      'GET',
      '/v1/customers',
      listOf('customer', ['email'], (p) => eq('email', str(p, 'email'))),
    ),
    r('GET', `/v1/customers/${id}`, retrieve('customer')),
    r('POST', `/v1/customers/${id}`, updateCustomer),
    r('DELETE', `/v1/customers/${id}`, deleteCustomer),
    r('POST', '/v1/products', createProduct),
    r(
      'GET',
      '/v1/products',
      listOf('product', ['active'], (p) => {
        const active = bool(p, 'active');
        return active === undefined ? undefined : (o) => o.active === active;
      }),
    ),
    r('GET', `/v1/products/${id}`, retrieve('product')),
    r('POST', `/v1/products/${id}`, updateProduct),
    r('POST', '/v1/prices', createPrice),
    r(
      'GET',
      '/v1/prices',
      listOf('price', ['product', 'active', 'type', 'currency'], (p) => {
        const active = bool(p, 'active');
        return allOf(
          eq('product', str(p, 'product')),
          eq('type', str(p, 'type')),
          eq('currency', str(p, 'currency')),
          active === undefined ? undefined : (o) => o.active === active,
        );
      }),
    ),
    r('GET', `/v1/prices/${id}`, retrieve('price')),
    r('POST', `/v1/prices/${id}`, updatePrice),
    r('POST', '/v1/payment_intents', createIntent),
    r(
      'GET',
      '/v1/payment_intents',
      listOf('payment_intent', ['customer'], (p) => eq('customer', str(p, 'customer'))),
    ),
    r('GET', `/v1/payment_intents/${id}`, retrieve('payment_intent')),
    r('POST', `/v1/payment_intents/${id}`, updateIntent),
    r('POST', `/v1/payment_intents/${id}/confirm`, confirmIntent),
    r('POST', `/v1/payment_intents/${id}/cancel`, cancelIntent),
    r(
      'GET',
      '/v1/charges',
      listOf('charge', ['customer', 'payment_intent'], (p) =>
        allOf(eq('customer', str(p, 'customer')), eq('payment_intent', str(p, 'payment_intent'))),
      ),
    ),
    r('GET', `/v1/charges/${id}`, retrieve('charge')),
    r('POST', '/v1/subscriptions', createSubscription),
    r(
      'GET',
      '/v1/subscriptions',
      listOf('subscription', ['customer', 'status', 'price'], (p) => {
        const status = str(p, 'status');
        const price = str(p, 'price');
        return allOf(
          eq('customer', str(p, 'customer')),
          status === 'all' ? undefined : status ? eq('status', status) : (o) => o.status !== 'canceled',
          price ? (o) => JSON.stringify(o.items).includes(`"id":"${price}"`) : undefined,
        );
      }),
    ),
    r('GET', `/v1/subscriptions/${id}`, retrieve('subscription')),
    r('POST', `/v1/subscriptions/${id}`, updateSubscription),
    r('DELETE', `/v1/subscriptions/${id}`, cancelSubscription),
    r(
      'GET',
      '/v1/invoices',
      listOf('invoice', ['customer', 'subscription', 'status'], (p) => {
        const sub = str(p, 'subscription');
        return allOf(
          eq('customer', str(p, 'customer')),
          eq('status', str(p, 'status')),
          sub
            ? (o) =>
                (o.parent as { subscription_details?: { subscription?: string } } | null)?.subscription_details
                  ?.subscription === sub
            : undefined,
        );
      }),
    ),
    r('GET', `/v1/invoices/${id}`, retrieve('invoice')),
    r('POST', '/v1/checkout/sessions', createSession),
    r(
      'GET',
      '/v1/checkout/sessions',
      listOf('checkout.session', ['customer', 'payment_intent', 'status'], (p) =>
        allOf(
          eq('customer', str(p, 'customer')),
          eq('payment_intent', str(p, 'payment_intent')),
          eq('status', str(p, 'status')),
        ),
      ),
    ),
    r('GET', `/v1/checkout/sessions/${id}`, retrieve('checkout.session', 'checkout.session')),
    r('POST', `/v1/checkout/sessions/${id}/expire`, expireSession),
    r(
      'GET',
      '/v1/events',
      listOf('event', ['type', 'types', 'delivery_success'], (p) => {
        const oldest = nowSeconds() - windowSeconds;
        return allOf((o) => (o.created as number) >= oldest, eventFilter(p, eventsPending));
      }),
    ),
    r('GET', `/v1/events/${id}`, (ctx, params, [eventId]) => {
      allowOnly(params, []);
      const event = ctx.store.require('event', eventId as string);
      if ((event.created as number) < nowSeconds() - windowSeconds)
        throw new FakeApiError(
          404,
          {
            type: 'invalid_request_error',
            code: 'resource_missing',
            param: 'id',
            message: `No such event: '${eventId}'`,
          },
          true,
        );
      return event;
    }),
  ];
}

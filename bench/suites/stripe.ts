import { stripeClient, stripeFetch } from '@ballast/stripe';
import { createFakeStripe } from '@ballast/stripe/testing';
import Stripe from 'stripe';
import { type BenchRow, measureRow, report } from '../harness';

/**
 * `pnpm bench stripe`: one Stripe API call over a real socket to the fake
 * Stripe on 127.0.0.1 (its rate limit off), per client:
 *
 * - `raw fetch`: the floor: global fetch with a hand-built form body.
 * - `own client`: `stripeClient` (Ballast's retry, breaker, budget and
 *   timeout layers; limiter off, as in every row).
 * - `stripe-node over stripeFetch`: the SDK (`maxNetworkRetries: 0`) on
 *   `Stripe.createFetchHttpClient(stripeFetch(...))`, the same Ballast layers.
 * - `stripe-node over fetch`: the SDK on plain global fetch (no Ballast).
 * - `stripe-node (node http)`: the SDK with its default Node http client.
 *
 * Each op is one `POST /v1/customers` (create) or `GET /v1/customers/:id`
 * (retrieve). Rows are measured in interleaved rounds; the best of each is
 * kept. The ratios compare p50s.
 */

const ROUNDS = 3;
const KEY = 'sk_test_bench_stripe';
const VERSION = '2026-10-28.endive';

const fake = createFakeStripe({ rateLimit: false });
const server = await fake.listen();

const own = stripeClient({ apiKey: KEY, apiVersion: VERSION, baseUrl: server.url, limiter: false });
const sdkSettings = { host: server.host, port: server.port, protocol: 'http' as const, telemetry: false };
const sdkBallast = new Stripe(KEY, {
  ...sdkSettings,
  apiVersion: VERSION as Stripe.LatestApiVersion,
  maxNetworkRetries: 0,
  httpClient: Stripe.createFetchHttpClient(stripeFetch({ mode: 'test', limiter: false })),
});
const sdkFetch = new Stripe(KEY, {
  ...sdkSettings,
  apiVersion: VERSION as Stripe.LatestApiVersion,
  maxNetworkRetries: 0,
  httpClient: Stripe.createFetchHttpClient(),
});
const sdkNode = new Stripe(KEY, {
  ...sdkSettings,
  apiVersion: VERSION as Stripe.LatestApiVersion,
  maxNetworkRetries: 0,
});

const headers = { authorization: `Bearer ${KEY}`, 'stripe-version': VERSION };
let n = 0;
async function rawCreate(): Promise<void> {
  const response = await fetch(`${server.url}/v1/customers`, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/x-www-form-urlencoded',
      'idempotency-key': crypto.randomUUID(),
    },
    body: `email=raw${n++}%40example.com`,
  });
  await response.json();
}

const known = (await own.post<{ id: string }>('/v1/customers', { email: 'known@example.com' })).id;

const rowsByRound: Array<[string, () => Promise<unknown>]> = [
  ['raw fetch: create', rawCreate],
  ['own client: create', () => own.post('/v1/customers', { email: `own${n++}@example.com` })],
  ['stripe-node over stripeFetch: create', () => sdkBallast.customers.create({ email: `sb${n++}@example.com` })],
  ['stripe-node over fetch: create', () => sdkFetch.customers.create({ email: `sf${n++}@example.com` })],
  ['stripe-node (node http): create', () => sdkNode.customers.create({ email: `sn${n++}@example.com` })],
  ['raw fetch: retrieve', async () => (await fetch(`${server.url}/v1/customers/${known}`, { headers })).json()],
  ['own client: retrieve', () => own.get(`/v1/customers/${known}`)],
  ['stripe-node over stripeFetch: retrieve', () => sdkBallast.customers.retrieve(known)],
  ['stripe-node over fetch: retrieve', () => sdkFetch.customers.retrieve(known)],
  ['stripe-node (node http): retrieve', () => sdkNode.customers.retrieve(known)],
];

const best = new Map<string, BenchRow>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of rowsByRound) {
    const row = await measureRow(name, fn, `best of ${ROUNDS}`);
    if (row.opsPerSec > (best.get(name)?.opsPerSec ?? 0)) best.set(name, row);
  }
}
await server.close();

/**
 * Time ratio b over a by p50: the machine is shared and loaded, and a few
 * slow outliers move the mean (ops/s) of a socket round trip far more than
 * its median.
 */
const ratio = (a: string, b: string) => (r: ReadonlyMap<string, BenchRow>) =>
  (r.get(b)?.p50Ns ?? Number.NaN) / (r.get(a)?.p50Ns ?? Number.NaN);
report(
  'stripe',
  [...best.values()],
  [
    {
      label: 'create: stripe-node over stripeFetch over own client (p50 time ratio)',
      measured: ratio('own client: create', 'stripe-node over stripeFetch: create'),
    },
    {
      label: 'retrieve: stripe-node over stripeFetch over own client (p50 time ratio)',
      measured: ratio('own client: retrieve', 'stripe-node over stripeFetch: retrieve'),
    },
    {
      label: 'create: own client over raw fetch (p50 time ratio)',
      measured: ratio('raw fetch: create', 'own client: create'),
    },
    {
      label: 'create: stripe-node over stripeFetch over stripe-node on plain fetch (p50 time ratio)',
      measured: ratio('stripe-node over fetch: create', 'stripe-node over stripeFetch: create'),
    },
  ],
);

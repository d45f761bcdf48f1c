import type { RequestHandler } from 'msw';
import type { FakeStripe } from './fake-stripe';

/** Options for {@link stripeMswHandlers}. */
export interface StripeMswOptions {
  /**
   * The API origin to intercept.
   * @default 'https://api.stripe.com'
   */
  baseUrl?: string;
}

/**
 * msw request handlers that answer Stripe API calls from a fake Stripe, for
 * tests whose code calls `https://api.stripe.com` directly. msw is loaded
 * when this is called; this entry (`@ballast/stripe/testing/msw`) is the only
 * one whose types name msw, an optional peer.
 *
 * @example
 * ```ts
 * const fake = createFakeStripe();
 * const server = setupServer(...(await stripeMswHandlers(fake)));
 * server.listen({ onUnhandledFrame: 'error' });
 * ```
 */
export async function stripeMswHandlers(fake: FakeStripe, options: StripeMswOptions = {}): Promise<RequestHandler[]> {
  const { http } = await import('msw');
  const base = (options.baseUrl ?? 'https://api.stripe.com').replace(/\/+$/, '');
  return [http.all(`${base}/v1/*`, ({ request }) => fake.handle(request))];
}

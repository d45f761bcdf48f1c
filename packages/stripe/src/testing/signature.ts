const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Options for {@link stripeSignatureHeader}. */
export interface StripeSignatureOptions {
  /** The exact body that is sent. */
  payload: string;
  /** The endpoint secret (`whsec_…`), or several during a rotation: one `v1` per secret. */
  secret: string | readonly string[];
  /** Unix seconds. */
  timestamp: number;
  /**
   * A `v0` entry, as Stripe adds to test-mode events (a signature no verifier
   * may accept: it is ignored by Stripe's own libraries).
   * @default false
   */
  v0?: boolean;
}

/**
 * Builds a `Stripe-Signature` header exactly as Stripe does:
 * `t=<unix s>,v1=<hex HMAC-SHA256 of "t.payload" keyed with the whole secret>`,
 * one `v1` per secret, plus an optional test-mode `v0`. Written independently
 * of `@ballast/core/webhooks` (Web Crypto), so tests cross-check the two.
 */
export async function stripeSignatureHeader(options: StripeSignatureOptions): Promise<string> {
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  const timestamp = Math.floor(options.timestamp);
  const parts = [`t=${timestamp}`];
  for (const secret of secrets) {
    const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    parts.push(`v1=${hex(await crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}.${options.payload}`)))}`);
  }
  if (options.v0) {
    const noise = await crypto.subtle.digest('SHA-256', encoder.encode(`v0:${timestamp}:${options.payload}`));
    parts.push(`v0=${hex(noise)}`);
  }
  return parts.join(',');
}

/**
 * Run under Deno by `deno.test.ts`, never imported by the package: verifies the deliveries given as
 * JSON in the first argument with the webhooks entry and prints one JSON line with the `#crypto`
 * backend Deno resolved and, per delivery, the verified id or the error code.
 */
import process from 'node:process';
import { backend } from '#crypto';
import { isWebhookVerificationError, verifyWebhook } from './index';
import type { VerifyWebhookOptions } from './types';

/** One delivery to verify, as sent by the test. */
export interface DenoCase {
  scheme: 'stripe' | 'standard';
  secret: string;
  body: string;
  headers: Record<string, string>;
}

/** What the script prints for one delivery. */
export type DenoVerdict = { id: string } | { code: string } | { unexpected: string };

/** The script's whole output. */
export interface DenoReport {
  backend: string;
  runtime: string;
  verdicts: DenoVerdict[];
}

const input = JSON.parse(process.argv[2] ?? '{}') as { nowMs: number; cases: DenoCase[] };
const verdicts: DenoVerdict[] = [];
for (const delivery of input.cases) {
  const options: VerifyWebhookOptions = { scheme: delivery.scheme, secret: delivery.secret, now: () => input.nowMs };
  try {
    const event = await verifyWebhook({ body: delivery.body, headers: delivery.headers }, options);
    verdicts.push({ id: event.id });
  } catch (error) {
    verdicts.push(isWebhookVerificationError(error) ? { code: error.code } : { unexpected: String(error) });
  }
}
const runtime = 'Deno' in globalThis ? 'deno' : 'other';
const report: DenoReport = { backend: backend.name, runtime, verdicts };
console.log(JSON.stringify(report));

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denoExecutable } from '../../../../test-support/deno';
import { toBase64 } from '../internal/encoding';
import type { DenoCase, DenoReport, DenoVerdict } from './deno-fixture';
import { generateStandardKeyPair } from './schemes/standard';
import { signWebhook } from './sign';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');
const fixture = join(here, 'deno-fixture.ts');

/**
 * Runs the fixture under Deno and returns its report. No permissions are granted (so no network),
 * remote and uncached modules are refused, and the cache lives in a fresh temp dir.
 */
async function runUnderDeno(denoDir: string, input: unknown, extraFlags: readonly string[]): Promise<DenoReport> {
  const flags = ['--no-remote', '--cached-only', '--no-lock', '--sloppy-imports', '--conditions=@ballast/source'];
  const { stdout } = await run(denoExecutable(), ['run', ...flags, ...extraFlags, fixture, JSON.stringify(input)], {
    cwd: packageRoot,
    env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    timeout: 30_000,
  });
  return JSON.parse(stdout) as DenoReport;
}

const t = 1_700_000_000;
const stripeSecret = 'whsec_deno_run';
const standardSecret = `whsec_${toBase64(Uint8Array.from({ length: 32 }, (_, i) => i * 11))}`;
const stripeBody = JSON.stringify({ id: 'evt_deno', object: 'event', type: 'charge.succeeded' });
const standardBody = JSON.stringify({ type: 'user.created', data: { id: 'user_deno' } });

/** Changes the first base64 character of a `v1,...` / `v1a,...` signature to another valid one. */
function tamper(signature: string): string {
  const at = signature.indexOf(',') + 1;
  return signature.slice(0, at) + (signature[at] === 'A' ? 'B' : 'A') + signature.slice(at + 1);
}

let denoDir: string;
let importMap: string;
let cases: { name: string; delivery: DenoCase; expected: DenoVerdict }[];

beforeAll(async () => {
  denoDir = await mkdtemp(join(tmpdir(), 'ballast-deno-'));
  importMap = join(denoDir, 'import-map.json');
  await writeFile(importMap, JSON.stringify({ imports: { '#crypto': join(here, 'crypto', 'node.ts') } }));

  const stripeHeader = Stripe.webhooks.generateTestHeaderString({
    payload: stripeBody,
    secret: stripeSecret,
    timestamp: t,
  });
  const standardSignature = new StandardWebhook(standardSecret).sign('msg_deno', new Date(t * 1000), standardBody);
  const standardHeaders = { 'webhook-id': 'msg_deno', 'webhook-timestamp': String(t) };
  const pair = await generateStandardKeyPair();
  const ed25519 = await signWebhook({
    scheme: 'standard',
    secret: pair.secretKey,
    body: standardBody,
    id: 'msg_deno_v1a',
    timestamp: t,
  });
  const ed25519Signature = ed25519.headers['webhook-signature'] ?? '';
  expect(ed25519Signature).toMatch(/^v1a,/);

  const stripe = (body: string, header: string): DenoCase => ({
    scheme: 'stripe',
    secret: stripeSecret,
    body,
    headers: { 'stripe-signature': header },
  });
  cases = [
    {
      name: 'stripe, signed by the stripe package',
      delivery: stripe(stripeBody, stripeHeader),
      expected: { id: 'evt_deno' },
    },
    {
      name: 'stripe, body tampered',
      delivery: stripe(stripeBody.replace('succeeded', 'refunded'), stripeHeader),
      expected: { code: 'no_matching_signature' },
    },
    {
      name: 'standard v1, signed by the standardwebhooks package',
      delivery: {
        scheme: 'standard',
        secret: standardSecret,
        body: standardBody,
        headers: { ...standardHeaders, 'webhook-signature': standardSignature },
      },
      expected: { id: 'msg_deno' },
    },
    {
      name: 'standard v1, signature tampered',
      delivery: {
        scheme: 'standard',
        secret: standardSecret,
        body: standardBody,
        headers: { ...standardHeaders, 'webhook-signature': tamper(standardSignature) },
      },
      expected: { code: 'no_matching_signature' },
    },
    {
      name: 'standard v1a (Ed25519), signed by signWebhook',
      delivery: { scheme: 'standard', secret: pair.publicKey, body: standardBody, headers: ed25519.headers },
      expected: { id: 'msg_deno_v1a' },
    },
    {
      name: 'standard v1a (Ed25519), signature tampered',
      delivery: {
        scheme: 'standard',
        secret: pair.publicKey,
        body: standardBody,
        headers: { ...ed25519.headers, 'webhook-signature': tamper(ed25519Signature) },
      },
      expected: { code: 'no_matching_signature' },
    },
  ];
});

afterAll(async () => {
  await rm(denoDir, { recursive: true, force: true });
});

describe('the webhooks entry under Deno', () => {
  it('resolves #crypto to Web Crypto (the `deno` condition comes before `node`) and verifies genuine deliveries only', async () => {
    const report = await runUnderDeno(denoDir, { nowMs: t * 1000, cases: cases.map((c) => c.delivery) }, []);
    expect(report.runtime).toBe('deno');
    expect(report.backend).toBe('web');
    expect(Object.fromEntries(cases.map((c, i) => [c.name, report.verdicts[i]]))).toEqual(
      Object.fromEntries(cases.map((c) => [c.name, c.expected])),
    );
  });

  it("verifies the same deliveries on Deno's node:crypto, pinned by an import map", async () => {
    const input = { nowMs: t * 1000, cases: cases.map((c) => c.delivery) };
    const report = await runUnderDeno(denoDir, input, [`--import-map=${importMap}`]);
    expect(report.runtime).toBe('deno');
    expect(report.backend).toBe('node');
    expect(Object.fromEntries(cases.map((c, i) => [c.name, report.verdicts[i]]))).toEqual(
      Object.fromEntries(cases.map((c) => [c.name, c.expected])),
    );
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { signWebhook } from '@ballast/core/webhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { denoExecutable } from '../../test-support/deno';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';

const here = dirname(fileURLToPath(import.meta.url));
const functions = join(here, 'supabase', 'functions');
const coreRoot = join(here, '..', '..', 'packages', 'core');
const pipedriveSrc = join(here, '..', '..', 'packages', 'pipedrive', 'src');
const secret = 'whsec_supabase_example';
const pipedriveCredentials = 'ballast-0a1b2c3d:supabase-example-password';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describeWithPostgres('Supabase Edge Functions under Deno', (url) => {
  let denoDir: string;
  let importMap: string;
  let admin: SqlClient;
  const children: ChildProcess[] = [];
  const run = uniqueSchema('sbfn');

  /**
   * Serves one function as the Edge Runtime would (a default export with `fetch`), on Deno. The
   * function's deno.json maps `@ballast/core/` to the npm package; here an import map points the same
   * specifiers at the workspace sources instead, since the package is not published from this repo.
   */
  async function serve(name: string, env: Record<string, string>): Promise<string> {
    const port = await freePort();
    const child = spawn(
      denoExecutable(),
      [
        'serve',
        `--port=${port}`,
        '--host=127.0.0.1',
        '--no-lock',
        '--no-config',
        '--sloppy-imports',
        '--conditions=@ballast/source',
        '--node-modules-dir=manual',
        `--import-map=${importMap}`,
        '--allow-net',
        '--allow-env',
        '--allow-read',
        '--allow-sys',
        join(functions, name, 'index.ts'),
      ],
      {
        cwd: coreRoot,
        env: { ...process.env, ...env, DENO_DIR: denoDir, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const base = `http://127.0.0.1:${port}`;
    for (const until = Date.now() + 60_000; ; ) {
      if (
        await fetch(base, { method: 'OPTIONS' }).then(
          () => true,
          () => false,
        )
      )
        return base;
      if (child.exitCode !== null || Date.now() > until) throw new Error(`${name} did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function delivery(id: string, invoice: string): Promise<RequestInit> {
    const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { id: invoice } } });
    const signed = await signWebhook({ scheme: 'stripe', secret, body });
    return { method: 'POST', headers: signed.headers, body };
  }

  beforeAll(async () => {
    denoDir = await mkdtemp(join(tmpdir(), 'ballast-supabase-fn-'));
    importMap = join(denoDir, 'import-map.json');
    const src = join(coreRoot, 'src');
    await writeFile(
      importMap,
      JSON.stringify({
        imports: {
          '@ballast/core/inbox': join(src, 'inbox', 'index.ts'),
          '@ballast/core/stores/sql': join(src, 'stores', 'sql-index.ts'),
          '@ballast/core/stores/postgresjs': join(src, 'stores', 'postgresjs.ts'),
          '@ballast/core/stores/memory': join(src, 'stores', 'memory.ts'),
          '@ballast/core/bulk': join(src, 'bulk', 'index.ts'),
          '@ballast/core/errors': join(src, 'errors.ts'),
          '@ballast/core/idempotency': join(src, 'idempotency', 'index.ts'),
          '@ballast/core/resilience': join(src, 'resilience', 'index.ts'),
          '@ballast/core/sync': join(src, 'sync', 'index.ts'),
          '@ballast/core/vault': join(src, 'vault', 'index.ts'),
          '@ballast/core/webhooks': join(src, 'webhooks', 'index.ts'),
          '@ballast/pipedrive': join(pipedriveSrc, 'index.ts'),
          '#crypto': join(src, 'webhooks', 'crypto', 'web.ts'),
          '#vault-crypto': join(src, 'vault', 'crypto-web.ts'),
        },
      }),
    );
    admin = await createPostgres({ connectionString: url, max: 1 });
    await admin.exec(
      'CREATE TABLE IF NOT EXISTS public.paid_invoices (invoice_id text PRIMARY KEY, event_id text NOT NULL)',
    );
    await admin.exec(
      'CREATE TABLE IF NOT EXISTS public.pipedrive_person_changes (event_id text PRIMARY KEY, person_id text NOT NULL, action text NOT NULL, name text)',
    );
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await admin.query('DELETE FROM public.paid_invoices WHERE starts_with(invoice_id, $1)', [`in_${run}`]);
    await admin.query('DELETE FROM public.pipedrive_person_changes WHERE starts_with(event_id, $1)', [run]);
    await admin.close();
    await rm(denoDir, { recursive: true, force: true });
  });

  it('the webhook function stores or refuses each delivery, and the drain function runs an event exactly once', async () => {
    const env = { BALLAST_DB_URL: url, STRIPE_WEBHOOK_SECRET: secret };
    const [webhook, drain] = await Promise.all([serve('stripe-webhook', env), serve('drain', env)]);
    const invoice = `in_${run}`;

    const first = await fetch(webhook, await delivery(`evt_${run}`, invoice));
    expect(first.status).toBe(200);
    const duplicate = await fetch(webhook, await delivery(`evt_${run}`, invoice));
    expect([duplicate.status, await duplicate.json()]).toEqual([200, expect.objectContaining({ duplicate: true })]);
    expect((await fetch(webhook, { method: 'POST', body: '{"id":"evt_unsigned"}' })).status).toBe(401);
    const garbage = await signWebhook({ scheme: 'stripe', secret, body: 'not json' });
    expect((await fetch(webhook, { method: 'POST', headers: garbage.headers, body: 'not json' })).status).toBe(400);

    const paid = async () =>
      (await admin.query('SELECT event_id FROM public.paid_invoices WHERE invoice_id = $1', [invoice])).rows;
    expect(await paid()).toEqual([]); // nothing ran on the request path
    let claimed = 0;
    for (let i = 0; i < 20 && (await paid()).length === 0; i++) {
      claimed += ((await (await fetch(drain, { method: 'POST' })).json()) as { claimed: number }).claimed;
    }
    expect(await paid()).toEqual([{ event_id: `evt_${run}` }]);
    expect(claimed).toBeGreaterThanOrEqual(1);
    // a second drain finds nothing of ours left, and the side effect stays single
    await fetch(drain, { method: 'POST' });
    expect(await paid()).toHaveLength(1);
  }, 120_000);

  it('answers 503 with Retry-After while the database cannot be reached', async () => {
    const webhook = await serve('stripe-webhook', {
      BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none',
      STRIPE_WEBHOOK_SECRET: secret,
    });
    const res = await fetch(webhook, await delivery(`evt_${run}_down`, `in_${run}_down`));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  }, 90_000);
  /** A Pipedrive v2 delivery, with `Authorization: Basic` encoded here (none when `credentials` is null). */
  function pipedriveDelivery(id: string, credentials: string | null, attempt = 1): RequestInit {
    const body = JSON.stringify({
      meta: {
        id,
        action: 'change',
        entity: 'person',
        entity_id: '42',
        timestamp: new Date().toISOString(),
        version: '2.0',
        attempt,
        change_source: 'app',
      },
      data: { id: 42, name: `Ada ${run}`, update_time: new Date().toISOString().slice(0, 19).concat('Z') },
      previous: { name: 'Ada' },
    });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (credentials !== null) headers.authorization = `Basic ${btoa(credentials)}`;
    return { method: 'POST', headers, body };
  }

  it('the Pipedrive webhook function checks Basic credentials, stores each event once, and the drain function runs it exactly once', async () => {
    const env = {
      BALLAST_DB_URL: url,
      PIPEDRIVE_WEBHOOK_CREDENTIALS: pipedriveCredentials,
      STRIPE_WEBHOOK_SECRET: secret,
    };
    const [webhook, drain] = await Promise.all([serve('pipedrive-webhook', env), serve('drain', env)]);
    const eventId = `${run}-0000-4000-8000-000000000001`;

    const first = await fetch(webhook, pipedriveDelivery(eventId, pipedriveCredentials));
    expect([first.status, await first.json()]).toEqual([200, { received: true, duplicate: false }]);
    // Pipedrive's retry of the same event: attempt 2, another body, the same meta.id
    const retry = await fetch(webhook, pipedriveDelivery(eventId, pipedriveCredentials, 2));
    expect([retry.status, await retry.json()]).toEqual([200, { received: true, duplicate: true }]);
    const wrong = await fetch(webhook, pipedriveDelivery(`${run}-wrong`, 'ballast-0a1b2c3d:guessed'));
    expect([wrong.status, await wrong.json()]).toEqual([401, { error: 'no_matching_signature' }]);
    expect((await fetch(webhook, pipedriveDelivery(`${run}-none`, null))).status).toBe(401);
    const garbage = await fetch(webhook, {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(pipedriveCredentials)}` },
      body: '{"meta":{"action":"exploded"}}',
    });
    expect([garbage.status, await garbage.json()]).toEqual([400, { error: 'invalid_event' }]);

    const changes = async () =>
      (
        await admin.query(
          'SELECT event_id, person_id, action FROM public.pipedrive_person_changes WHERE starts_with(event_id, $1)',
          [run],
        )
      ).rows;
    expect(await changes()).toEqual([]); // nothing ran on the request path
    for (let i = 0; i < 20 && (await changes()).length === 0; i++) await fetch(drain, { method: 'POST' });
    expect(await changes()).toEqual([{ event_id: eventId, person_id: '42', action: 'change' }]);
    await fetch(drain, { method: 'POST' });
    expect(await changes()).toHaveLength(1);
  }, 120_000);

  it('the Pipedrive webhook function answers 503 with Retry-After while the database cannot be reached', async () => {
    const webhook = await serve('pipedrive-webhook', {
      BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none',
      PIPEDRIVE_WEBHOOK_CREDENTIALS: pipedriveCredentials,
    });
    const res = await fetch(webhook, pipedriveDelivery(`${run}-down`, pipedriveCredentials));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  }, 90_000);
});

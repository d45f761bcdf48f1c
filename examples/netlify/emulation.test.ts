/**
 * The example's function files served by Netlify's own local emulation
 * (`@netlify/functions-dev`, the functions layer of `netlify dev` and
 * `@netlify/dev`): it finds the functions in netlify/functions, bundles them
 * with zip-it-and-ship-it as a deploy does, routes by `config.path` and
 * `config.method`, runs each invocation in a worker thread with a `Context`,
 * and invokes the scheduled drain as Netlify's scheduler does. Offline: no
 * site is linked and geolocation is the emulator's fixed mock.
 *
 * The database is Postgres through PgBouncer in transaction mode, as a deploy
 * reaches Supabase through its pooler on port 6543. The functions import
 * `@ballast/core` as published (its `dist`, built by `pnpm build`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { signWebhook } from '@ballast/core/webhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPgBouncer, type PgBouncer, startPgBouncer } from '../../test-support/pgbouncer';
import { uniqueSchema } from '../../test-support/services';

const here = dirname(fileURLToPath(import.meta.url));
const coreDist = join(here, '../../packages/core/dist/inbox/index.js');
const secret = 'whsec_netlify_emulation';
let site = '';

async function delivery(id: string, invoice: string): Promise<Request> {
  const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { id: invoice } } });
  const signed = await signWebhook({ scheme: 'stripe', secret, body });
  return new Request(`${site}/webhooks/stripe`, { method: 'POST', headers: signed.headers, body });
}

/** Starts testdata/netlify-dev.mjs (the emulator over HTTP) with `env`; resolves once it listens. */
async function startEmulator(
  build: string,
  env: Record<string, string>,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(here, 'testdata/netlify-dev.mjs'), here, build], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const found = /\{"port":(\d+)\}/.exec(output);
      if (found) resolve(Number(found[1]));
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`the emulator exited (${code}):\n${output}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

const title = 'examples/netlify served by @netlify/functions-dev';
// the functions import @ballast/core's published files: without a build (a fresh clone before
// `pnpm build`) the suite says so and skips; CI builds first, and a missing build fails there
const built = existsSync(coreDist);
if (!built && process.env.CI === 'true')
  throw new Error('packages/core/dist is missing under CI: run pnpm build first');
if (!built) {
  describe.skip(`${title} (skipped: packages/core/dist is missing; run pnpm build)`, () => {
    it('serves the example functions', () => {});
  });
}

(built ? describeWithPgBouncer : () => {})(title, (_sharedPooler, directUrl) => {
  const build = mkdtempSync(join(tmpdir(), 'ballast-netlify-dev-'));
  const run = uniqueSchema('nfdev');
  let admin: SqlClient;
  let server: SqlClient;
  // this suite's own pooler, so that it can be stopped (the outage) and started again on its port
  let pooler: PgBouncer;
  let emulator: ChildProcess | undefined;
  /** Sends a request to the emulator; undefined when no function matches it. */
  const serve = async (request: Request): Promise<Response | undefined> => {
    const url = new URL(request.url);
    const res = await fetch(`${site}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer(),
    });
    if (res.headers.get('x-emulator-error')) throw new Error(`emulator: ${await res.text()}`);
    return res.headers.get('x-no-function') ? undefined : res;
  };

  beforeAll(async () => {
    // a database of its own: the functions use the default `ballast` schema, and a drain takes
    // every due event in it, so other suites' events must not be there
    server = await createPostgres({ connectionString: directUrl, max: 1 });
    await server.exec(`CREATE DATABASE ${run}`);
    const own = new URL(directUrl);
    own.pathname = `/${run}`;
    admin = await createPostgres({ connectionString: own.toString(), max: 1 });
    await admin.exec('CREATE TABLE public.paid_invoices (invoice_id text PRIMARY KEY, event_id text NOT NULL)');
    pooler = await startPgBouncer(directUrl);
    const pooled = new URL(pooler.url);
    pooled.pathname = `/${run}`;
    const started = await startEmulator(build, { BALLAST_DB_URL: pooled.toString(), STRIPE_WEBHOOK_SECRET: secret });
    emulator = started.child;
    site = started.url;
  }, 120_000);

  afterAll(async () => {
    emulator?.kill();
    await pooler?.stop();
    await admin?.close();
    await server?.exec(`DROP DATABASE IF EXISTS ${run} WITH (FORCE)`);
    await server?.close();
    rmSync(build, { recursive: true, force: true });
  });

  it('routes by config.path and config.method: POST /webhooks/stripe only', async () => {
    const unsigned = await serve(new Request(`${site}/webhooks/stripe`, { method: 'POST', body: '{}' }));
    expect(unsigned?.status).toBe(401); // reached the function, refused there
    expect(await serve(new Request(`${site}/webhooks/stripe`, { method: 'GET' }))).toBeUndefined();
    expect(await serve(new Request(`${site}/webhooks/other`, { method: 'POST', body: '{}' }))).toBeUndefined();
  }, 120_000);

  it('stores signed deliveries (200), absorbs a duplicate, refuses garbage; the scheduled drain runs each once', async () => {
    const invoice = `in_${run}_a`;
    const first = await serve(await delivery(`evt_${run}_a`, invoice));
    expect(first?.status).toBe(200);
    const again = await serve(await delivery(`evt_${run}_a`, invoice));
    expect(again?.status).toBe(200);
    expect(await again?.json()).toMatchObject({ duplicate: true });

    const garbage = await signWebhook({ scheme: 'stripe', secret, body: 'not json at all' });
    const signedGarbage = await serve(
      new Request(`${site}/webhooks/stripe`, { method: 'POST', headers: garbage.headers, body: 'not json at all' }),
    );
    expect(signedGarbage?.status).toBe(400);
    const forged = await delivery(`evt_${run}_b`, `in_${run}_b`);
    const tampered = await serve(
      new Request(forged.url, {
        method: 'POST',
        headers: forged.headers,
        body: (await forged.text()).replace(`in_${run}_b`, `in_${run}_evil`),
      }),
    );
    expect(tampered?.status).toBe(401);

    const paid = async () =>
      (await admin.query('SELECT invoice_id FROM public.paid_invoices WHERE invoice_id LIKE $1', [`in_${run}%`])).rows;
    expect(await paid()).toEqual([]); // nothing ran on the request path

    // the scheduler's call: a POST whose body carries next_run, with the request id Netlify's
    // edge adds; the emulator marks it as from "Netlify Clockwork" (x-nf-event: schedule) and
    // builds the function's Context from those headers
    const tick = (id: string) =>
      serve(
        new Request(`${site}/.netlify/functions/drain`, {
          method: 'POST',
          headers: { 'x-nf-request-id': id },
          body: JSON.stringify({ next_run: new Date(Date.now() + 60_000).toISOString() }),
        }),
      );
    let claimed = 0;
    for (let i = 0; i < 10 && claimed === 0; i++) {
      const res = await tick(`tick-${i}`);
      expect(res?.status).toBe(200);
      const body = (await res?.json()) as { claimed: number; requestId: unknown };
      expect(body.requestId).toBe(`tick-${i}`); // context.requestId
      claimed += body.claimed;
    }
    expect(await paid()).toEqual([{ invoice_id: invoice }]);
    const later = (await (await tick('tick-last'))?.json()) as { claimed: number };
    expect(later.claimed).toBe(0);
    expect(await paid()).toEqual([{ invoice_id: invoice }]);
  }, 120_000);

  it('answers 503 with Retry-After while the database is unreachable, and stores the retry once it is back', async () => {
    const port = Number(new URL(pooler.url).port);
    await pooler.stop(); // the pooler (and so the database) is gone
    const down = await serve(await delivery(`evt_${run}_c`, `in_${run}_c`));
    expect(down?.status).toBe(503);
    expect(down?.headers.get('retry-after')).toMatch(/^\d+$/);
    pooler = await startPgBouncer(directUrl, { port });
    const back = await serve(await delivery(`evt_${run}_c`, `in_${run}_c`));
    expect(back?.status).toBe(200);
    expect(await back?.json()).not.toMatchObject({ duplicate: true }); // nothing was stored during the outage
  }, 120_000);
});

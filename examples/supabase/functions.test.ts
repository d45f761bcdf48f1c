import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { signWebhook } from '@ballast/core/webhooks';
import { normalizeGeocodeRequest } from '@ballast/google-maps';
import { createFakeGoogleMaps, type FakeGoogleMapsServer } from '@ballast/google-maps/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denoExecutable } from '../../test-support/deno';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';

const here = dirname(fileURLToPath(import.meta.url));
const functions = join(here, 'supabase', 'functions');
const coreRoot = join(here, '..', '..', 'packages', 'core');
const pipedriveSrc = join(here, '..', '..', 'packages', 'pipedrive', 'src');
const googleMapsSrc = join(here, '..', '..', 'packages', 'google-maps', 'src');
const secret = 'whsec_supabase_example';
const pipedriveCredentials = 'ballast-0a1b2c3d:supabase-example-password';
const mapsKey = 'AIzaSupabaseExampleKey-0123456789abcdef';
const wrongMapsKey = 'AIzaRevokedExampleKey-fedcba9876543210';
const DAY_MS = 86_400_000;

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The project's signing keys as the functions see them (SUPABASE_JWKS), and a stranger's. */
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const strangerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const legacyJwtSecret = 'legacy-hs256-secret-of-the-example-project-0123456789';
const secretKey = 'sb_secret_exampleProjectSecretKey0123456789';
const jwks = JSON.stringify({
  keys: [
    { ...ecKey.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    { ...rsaKey.publicKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
  ],
});
/** What every served function gets: the project's keys, as the platform provides them. */
const authEnv = {
  SUPABASE_JWKS: jwks,
  SUPABASE_SECRET_KEYS: JSON.stringify({ default: secretKey }),
  SUPABASE_JWT_SECRET: legacyJwtSecret,
};

interface TokenOptions {
  alg?: 'ES256' | 'RS256' | 'HS256' | 'none';
  kid?: string;
  /** Signs with this key instead of the project's. */
  key?: KeyObject | string;
}

/** A JWT with `claims` (an hour's expiry unless given), signed like Supabase Auth signs. */
function jwt(claims: Record<string, unknown>, options: TokenOptions = {}): string {
  const alg = options.alg ?? 'ES256';
  const header = {
    alg,
    typ: 'JWT',
    ...(alg === 'HS256' || alg === 'none' ? {} : { kid: options.kid ?? (alg === 'ES256' ? 'ec-1' : 'rsa-1') }),
  };
  const body = { exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  const signed = `${base64url(header)}.${base64url(body)}`;
  if (alg === 'none') return `${signed}.`;
  if (alg === 'HS256')
    return `${signed}.${createHmac('sha256', options.key ?? legacyJwtSecret)
      .update(signed)
      .digest('base64url')}`;
  const key = options.key ?? (alg === 'ES256' ? ecKey.privateKey : rsaKey.privateKey);
  const signature = sign('sha256', Buffer.from(signed), {
    key: typeof key === 'string' ? createPrivateKey(key) : key,
    ...(alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${signed}.${signature.toString('base64url')}`;
}
/** The headers of the scheduled jobs (drain, purge): the project's secret key. */
const scheduled = { apikey: secretKey };

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
  /** Everything each served function printed, by its base URL. */
  const logs = new Map<string, () => string>();
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
        env: { ...process.env, ...authEnv, ...env, DENO_DIR: denoDir, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const base = `http://127.0.0.1:${port}`;
    logs.set(base, () => output);
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
          '@ballast/google-maps': join(googleMapsSrc, 'index.ts'),
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
      claimed += ((await (await fetch(drain, { method: 'POST', headers: scheduled })).json()) as { claimed: number })
        .claimed;
    }
    expect(await paid()).toEqual([{ event_id: `evt_${run}` }]);
    expect(claimed).toBeGreaterThanOrEqual(1);
    // a second drain finds nothing of ours left, and the side effect stays single
    await fetch(drain, { method: 'POST', headers: scheduled });
    expect(await paid()).toHaveLength(1);
    // only the schedule's secret key runs the drain: not a signed-in user, not the anon key, not nobody
    const user = { authorization: `Bearer ${jwt({ role: 'authenticated', sub: run })}` };
    expect((await fetch(drain, { method: 'POST', headers: user })).status).toBe(403);
    expect((await fetch(drain, { method: 'POST' })).status).toBe(401);
    expect((await fetch(drain, { method: 'POST', headers: { apikey: `${secretKey}x` } })).status).toBe(401);
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
    for (let i = 0; i < 20 && (await changes()).length === 0; i++)
      await fetch(drain, { method: 'POST', headers: scheduled });
    expect(await changes()).toEqual([{ event_id: eventId, person_id: '42', action: 'change' }]);
    await fetch(drain, { method: 'POST', headers: scheduled });
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

  describe('the geocode function', () => {
    const fake = createFakeGoogleMaps({ keys: [mapsKey] });
    let google: FakeGoogleMapsServer;
    /** Every response body the geocode function sent, checked for the API keys. */
    const bodies: string[] = [];
    const keys: string[] = [];
    const env = () => ({ BALLAST_DB_URL: url, GOOGLE_MAPS_API_KEY: mapsKey, GOOGLE_MAPS_BASE_URL: google.url });

    beforeAll(async () => {
      google = await fake.listen();
    });

    afterAll(async () => {
      await google?.close();
      await admin.query('DELETE FROM ballast.geocode_cache WHERE key = ANY($1::text[])', [keys]);
    });

    /** A run-unique address and its cache key (for the row, and the cleanup). */
    function place(text: string): { address: string; key: string } {
      const address = `${run} ${text}`;
      const { key } = normalizeGeocodeRequest(address);
      keys.push(key);
      return { address, key };
    }

    /**
     * One request to a served function (`path` may carry a query), with a JWT of `role` signed by the
     * project's key; `null` for no Authorization header. The body is kept for the key check.
     */
    async function call(base: string, init: RequestInit, path = '', role: string | null = 'authenticated') {
      const headers = new Headers(init.headers);
      if (role !== null) headers.set('authorization', `Bearer ${jwt({ role, sub: run })}`);
      const res = await fetch(`${base}${path}`, { ...init, headers });
      const text = await res.text();
      bodies.push(text);
      return { status: res.status, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> };
    }
    const post = (base: string, body: unknown) => call(base, { method: 'POST', body: JSON.stringify(body) });

    const row = async (key: string) =>
      (
        await admin.query<{
          place_id: string | null;
          lat: number | null;
          lng: number | null;
          located_at: string | null;
        }>('SELECT place_id, lat, lng, located_at FROM ballast.geocode_cache WHERE key = $1', [key])
      ).rows;

    /** Neither key in any body so far, nor in anything a function printed. */
    function expectNoKeyLeaked() {
      expect(bodies.length).toBeGreaterThan(0);
      for (const text of [...bodies, ...[...logs.values()].map((output) => output())]) {
        expect(text).not.toContain(mapsKey);
        expect(text).not.toContain(wrongMapsKey);
      }
    }

    it('asks Google once per address, stores the answer in geocode_cache, and serves repeats in any spelling from the table', async () => {
      fake.reset();
      // two isolates: the second has never seen the address, so its answer can only come from the table
      const [first, second] = await Promise.all([serve('geocode', env()), serve('geocode', env())]);
      const { address, key } = place('12 Harbour Road, Springfield');
      expect(await row(key)).toEqual([]);

      const miss = await post(first, { address });
      expect(miss.status).toBe(200);
      expect(miss.body).toEqual({
        result: {
          placeId: expect.any(String),
          location: { lat: expect.any(Number), lng: expect.any(Number) },
          locatedAt: expect.any(String),
        },
        source: 'google',
        stale: false,
        ageSeconds: 0,
      });
      expect(fake.calls()).toBe(1);
      const result = miss.body.result as { placeId: string; location: { lat: number; lng: number } };
      expect(await row(key)).toEqual([
        {
          place_id: result.placeId,
          lat: result.location.lat,
          lng: result.location.lng,
          located_at: expect.stringMatching(/^\d+$/),
        },
      ]);

      // another case, spaces around and doubled, the comma moved: the same key once folded
      const respelled = `  ${address.toUpperCase().replace(' ', '   ').replace(', ', ' ,')}  `;
      expect(respelled).not.toBe(address);
      const again = await call(first, { method: 'GET' }, `/geocode?address=${encodeURIComponent(respelled)}`);
      expect([again.status, again.body]).toEqual([
        200,
        { ...miss.body, source: 'cache', ageSeconds: expect.any(Number) },
      ]);
      const fromTable = await post(second, { address: respelled });
      expect([fromTable.status, fromTable.body]).toEqual([
        200,
        { ...miss.body, source: 'cache', ageSeconds: expect.any(Number) },
      ]);
      expect(fake.calls()).toBe(1);

      // no such place: 200 with a null result (decision 1200), remembered in the table as well
      const nowhere = place('7 Nowhere Close');
      expect(await post(first, { address: nowhere.address })).toMatchObject({ status: 200, body: { result: null } });
      expect(await row(nowhere.key)).toEqual([{ place_id: null, lat: null, lng: null, located_at: null }]);
      expect(await post(second, { address: nowhere.address })).toMatchObject({ status: 200, body: { result: null } });
      expect(fake.calls()).toBe(2);
      expect(fake.requests.map((r) => r.status)).toEqual(['OK', 'ZERO_RESULTS']);
      expectNoKeyLeaked();
    }, 120_000);

    it('checks every credential itself: signatures, keys, expiry, algorithms; answers the CORS preflight', async () => {
      fake.reset();
      const down = await serve('geocode', { ...env(), BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none' });
      const body = JSON.stringify({ address: 'Berlin' });
      const status = async (headers: Record<string, string>) =>
        (await call(down, { method: 'POST', body, headers }, '', null)).status;
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const user = { role: 'authenticated', sub: run };
      // 503: past the gate (the database is down); 401: not a caller; 403: a caller without the role
      expect(await status(bearer(jwt(user)))).toBe(503);
      expect(await status(bearer(jwt(user, { alg: 'RS256' })))).toBe(503);
      expect(await status(bearer(jwt(user, { alg: 'HS256' })))).toBe(503); // the legacy secret, when set
      expect(await status({ apikey: secretKey })).toBe(503);
      expect(await status(bearer(secretKey))).toBe(503);
      expect(await status(bearer(jwt({ role: 'anon' })))).toBe(403);
      // forged: another key under the project's kid, the wrong HMAC secret, alg none, a tampered role
      expect(await status(bearer(jwt({ role: 'service_role' }, { key: strangerKey.privateKey })))).toBe(401);
      expect(await status(bearer(jwt({ role: 'service_role' }, { alg: 'HS256', key: 'guessed' })))).toBe(401);
      expect(await status(bearer(jwt({ role: 'service_role' }, { alg: 'none' })))).toBe(401);
      const [head, , signature] = jwt({ role: 'anon' }).split('.');
      const promoted = base64url({ role: 'service_role', exp: Math.floor(Date.now() / 1000) + 3600 });
      expect(await status(bearer(`${head}.${promoted}.${signature}`))).toBe(401);
      // an RS256 token signed with the EC key's kid, an unknown kid, HS256 passed off as the public key
      expect(await status(bearer(jwt(user, { alg: 'RS256', kid: 'ec-1' })))).toBe(401);
      expect(await status(bearer(jwt(user, { kid: 'rotated-away' })))).toBe(401);
      expect(await status(bearer(jwt(user, { alg: 'HS256', key: jwks })))).toBe(401);
      // expired (beyond 30 s of skew), not yet valid, no expiry at all, no role
      const now = Math.floor(Date.now() / 1000);
      expect(await status(bearer(jwt({ ...user, exp: now - 120 })))).toBe(401);
      expect(await status(bearer(jwt({ ...user, nbf: now + 600 })))).toBe(401);
      expect(await status(bearer(jwt({ ...user, exp: undefined })))).toBe(401);
      expect(await status(bearer(jwt({ sub: run })))).toBe(401);
      // a wrong secret key, garbage, a token with a signature of the wrong shape
      expect(await status({ apikey: 'sb_secret_guessed' })).toBe(401);
      expect(await status(bearer('a.b.c'))).toBe(401);
      expect(await status(bearer(`${jwt(user).slice(0, -4)}AAAA`))).toBe(401);
      expect(fake.calls()).toBe(0);

      // CORS: the preflight needs no credentials, and the answers (errors too) carry the headers
      const preflight = await fetch(down, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
      const unauthorized = await call(down, { method: 'POST', body }, '', null);
      expect(unauthorized.headers.get('access-control-allow-origin')).toBe('*');

      // the legacy service-role key, and SUPABASE_JWKS given as a bare array of keys
      const legacy = await serve('geocode', {
        ...env(),
        BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none',
        SUPABASE_SECRET_KEYS: '',
        SUPABASE_SERVICE_ROLE_KEY: 'legacy-service-role-key.of.the-example',
        SUPABASE_JWKS: JSON.stringify(JSON.parse(jwks).keys),
      });
      const legacyStatus = async (headers: Record<string, string>) =>
        (await call(legacy, { method: 'POST', body, headers }, '', null)).status;
      expect(await legacyStatus({ apikey: 'legacy-service-role-key.of.the-example' })).toBe(503);
      expect(await legacyStatus(bearer('legacy-service-role-key.of.the-example'))).toBe(503);
      expect(await legacyStatus({ apikey: secretKey })).toBe(401); // no SUPABASE_SECRET_KEYS here
      expect(await legacyStatus(bearer(jwt(user, { alg: 'RS256' })))).toBe(503);
      expect(await legacyStatus(bearer(jwt(user, { key: strangerKey.privateKey })))).toBe(401);

      const listed = await serve('geocode', {
        ...env(),
        BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none',
        BALLAST_CORS_ORIGINS: 'https://app.example, https://admin.example',
      });
      const from = (origin: string) => fetch(listed, { method: 'OPTIONS', headers: { origin } });
      const allowed = await from('https://admin.example');
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://admin.example');
      expect(allowed.headers.get('vary')).toContain('Origin');
      expect((await from('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    }, 90_000);

    it('refuses callers without a JWT or with the anon role (401/403) and bad input (400/405) without the database, answers 503 while the database cannot be reached, and never calls Google then', async () => {
      fake.reset();
      const down = await serve('geocode', { ...env(), BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none' });
      const refused = (message: RegExp) => ({
        status: 400,
        body: { error: 'invalid_request', message: expect.stringMatching(message) },
      });
      // who may geocode: a signed-in user or a server, not the public anon key, and nobody without a JWT
      const valid = { method: 'POST', body: JSON.stringify({ address: 'Berlin' }) };
      expect(await call(down, valid, '', 'anon')).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      expect(await call(down, { method: 'POST', body: '{}' }, '', 'anon')).toMatchObject({ status: 403 });
      expect(await call(down, valid, '', null)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
      expect(await call(down, { ...valid, headers: { authorization: 'Bearer not-a-jwt' } }, '', null)).toMatchObject({
        status: 401,
      });
      expect(await call(down, valid, '', 'service_role')).toMatchObject({ status: 503 }); // past the gate
      expect(await call(down, valid)).toMatchObject({ status: 503 }); // a signed-in user, past the gate too
      for (const method of ['PUT', 'DELETE', 'PATCH']) {
        const res = await call(down, { method, body: '{"address":"Berlin"}' });
        expect([res.status, res.body, res.headers.get('allow')]).toEqual([
          405,
          { error: 'method_not_allowed' },
          'GET, POST, OPTIONS',
        ]);
      }
      expect(await post(down, {})).toMatchObject(refused(/address is required/));
      expect(await post(down, null)).toMatchObject(refused(/address is required/));
      expect(await call(down, { method: 'POST', body: 'address=Berlin' })).toMatchObject(refused(/must be JSON/));
      expect(await post(down, { address: '' })).toMatchObject(refused(/must not be empty/));
      expect(await post(down, { address: ' \t ' })).toMatchObject(refused(/must not be empty/));
      expect(await post(down, { address: 42 })).toMatchObject(refused(/must be a string/));
      expect(await post(down, { address: ['Berlin'] })).toMatchObject(refused(/must be a string/));
      expect(await post(down, { address: 'x'.repeat(2049) })).toMatchObject(refused(/at most 2048 characters/));
      expect(await call(down, { method: 'GET' })).toMatchObject(refused(/address is required/));
      expect(await call(down, { method: 'GET' }, '?address=')).toMatchObject(refused(/must not be empty/));

      const { address } = place('1 Station Road, Lakeside');
      const res = await post(down, { address });
      expect([res.status, res.body]).toEqual([503, { error: 'store_unavailable' }]);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(fake.calls()).toBe(0); // nothing spent while nothing could be stored
      expectNoKeyLeaked();
    }, 90_000);

    it('while Google is down serves coordinates past their refresh as stale, answers 503 unavailable for an unseen address, and 502 denied for a refused key', async () => {
      fake.reset();
      const [warm, cold, revoked] = await Promise.all([
        serve('geocode', env()),
        serve('geocode', env()),
        serve('geocode', { ...env(), GOOGLE_MAPS_API_KEY: wrongMapsKey }),
      ]);
      const known = place('3 Mill Lane, Oldtown');
      const fresh = await post(warm, { address: known.address });
      expect(fresh.status).toBe(200);
      // eight days later (past the 7-day refresh, inside Google's 30 days): the row as it would be then
      await admin.query(
        'UPDATE ballast.geocode_cache SET located_at = located_at - $2, checked_at = checked_at - $2 WHERE key = $1',
        [known.key, 8 * DAY_MS],
      );
      const [before] = await row(known.key);

      fake.outage('http_503');
      const asked = fake.calls();
      const stale = await post(cold, { address: known.address });
      expect([stale.status, stale.body]).toEqual([
        200,
        {
          result: { ...(fresh.body.result as object), locatedAt: new Date(Number(before?.located_at)).toISOString() },
          source: 'cache',
          stale: true,
          ageSeconds: expect.any(Number),
        },
      ]);
      expect(stale.body.ageSeconds).toBeGreaterThanOrEqual((8 * DAY_MS) / 1000);
      expect(stale.body.ageSeconds).toBeLessThan((8 * DAY_MS) / 1000 + 120);
      // Google was asked (the refresh goes by place id) and failed; the stored row is left as it was
      const failed = fake.requests.slice(asked);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed.every((r) => r.httpStatus === 503 && r.path.includes('place_id='))).toBe(true);
      expect(await row(known.key)).toEqual([before]);

      const unseen = place('99 New Road, Oldtown');
      const down = await post(cold, { address: unseen.address });
      expect([down.status, down.body]).toEqual([503, { error: 'unavailable' }]);
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await row(unseen.key)).toEqual([]);

      fake.outage(null);
      const other = place('5 Church Street, Oldtown');
      const denied = await post(revoked, { address: other.address });
      expect([denied.status, denied.body]).toEqual([502, { error: 'denied', status: 'REQUEST_DENIED' }]);
      expect(fake.requests.at(-1)).toMatchObject({
        status: 'REQUEST_DENIED',
        path: expect.stringContaining('key=redacted'),
      });
      expect(await row(other.key)).toEqual([]);
      expectNoKeyLeaked();
    }, 120_000);

    it('geocode-purge deletes coordinates past 30 days (keeping the place id) and empty answers past a day', async () => {
      const purge = await serve('geocode-purge', { BALLAST_DB_URL: url });
      const now = Date.now();
      // key, place id, lat, lng, located_at, checked_at
      const seeded = {
        expired: [`v1:${run}-expired`, 'ChIJexpired', 48.85, 2.35, now - 31 * DAY_MS, now - 31 * DAY_MS],
        recent: [`v1:${run}-recent`, 'ChIJrecent', 51.5, -0.12, now - 29 * DAY_MS, now - 29 * DAY_MS],
        emptyOld: [`v1:${run}-empty-old`, null, null, null, null, now - 2 * DAY_MS],
        emptyNew: [`v1:${run}-empty-new`, null, null, null, null, now - 3_600_000],
      } as const;
      for (const values of Object.values(seeded)) {
        keys.push(values[0]);
        await admin.query(
          'INSERT INTO ballast.geocode_cache (key, place_id, lat, lng, located_at, checked_at) VALUES ($1, $2, $3, $4, $5, $6)',
          [...values],
        );
      }
      expect((await call(purge, { method: 'GET' })).status).toBe(405);
      // the schedule's secret key only
      expect((await call(purge, { method: 'POST' })).status).toBe(403); // a signed-in user
      expect((await call(purge, { method: 'POST' }, '', 'anon')).status).toBe(403);
      expect((await call(purge, { method: 'POST' }, '', null)).status).toBe(401);
      expect(await row(seeded.expired[0])).toHaveLength(1); // nothing was purged by those
      expect((await row(seeded.expired[0]))[0]?.lat).toBe(48.85);
      const res = await call(purge, { method: 'POST', headers: scheduled }, '', null);
      expect(res.status).toBe(200);
      // other rows of the shared test database may be due as well: at least ours
      expect(res.body).toEqual({ coordinates: expect.any(Number), empty: expect.any(Number) });
      expect(res.body.coordinates).toBeGreaterThanOrEqual(1);
      expect(res.body.empty).toBeGreaterThanOrEqual(1);
      expect(await row(seeded.expired[0])).toEqual([
        { place_id: 'ChIJexpired', lat: null, lng: null, located_at: null },
      ]);
      expect(await row(seeded.recent[0])).toEqual([
        { place_id: 'ChIJrecent', lat: 51.5, lng: -0.12, located_at: String(seeded.recent[4]) },
      ]);
      expect(await row(seeded.emptyOld[0])).toEqual([]);
      expect(await row(seeded.emptyNew[0])).toHaveLength(1);

      const down = await serve('geocode-purge', { BALLAST_DB_URL: 'postgres://postgres@127.0.0.1:1/none' });
      const unreachable = await call(down, { method: 'POST', headers: scheduled }, '', null);
      expect([unreachable.status, unreachable.body]).toEqual([503, { error: 'store_unavailable' }]);
    }, 90_000);
  });
});

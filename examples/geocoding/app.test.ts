import { type ChildProcess, spawn } from 'node:child_process';
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { googleMapsClient } from '@ballast/google-maps';
import { createFakeGoogleMaps } from '@ballast/google-maps/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';
import { createGeocodingApp } from './app';

const DAY = 86_400_000;
const TOWER = 'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France';

async function story(db: SqlClient, schema: string) {
  const clock = { t: Date.UTC(2026, 11, 7) };
  const fake = createFakeGoogleMaps({ now: () => clock.t });
  const client = googleMapsClient({
    key: 'AIzaExample',
    fetch: fake.fetch,
    attempts: 2,
    baseDelayMs: 1,
    timeoutMs: 50,
    breaker: { failureThreshold: 3, cooldownMs: 20, maxCooldownMs: 20 },
  });
  const app = await createGeocodingApp({ db, client, schema, now: () => clock.t });
  const get = async (address: string) => {
    const res = await app.fetch(new Request(`http://app/geocode?address=${encodeURIComponent(address)}`));
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  // a lookup, then the same address spelled otherwise: one call
  expect(await get(TOWER)).toMatchObject({
    status: 200,
    body: { placeId: 'ChIJLU7jZClu5kcR4PcOOO6p3I0', source: 'google', stale: false },
  });
  expect(await get(TOWER.toUpperCase())).toMatchObject({ status: 200, body: { source: 'cache', ageSeconds: 0 } });
  expect(fake.requests).toHaveLength(1);

  // an import with duplicates
  const stores = Array.from({ length: 15 }, (_, i) => `${i + 1} Example Road, Springfield`);
  const res = await app.fetch(
    new Request('http://app/stores/import', {
      method: 'POST',
      body: JSON.stringify([...stores, ...stores.slice(0, 5), TOWER]),
    }),
  );
  expect(res.status).toBe(200);
  expect(((await res.json()) as { stats: unknown }).stats).toMatchObject({
    total: 21,
    distinct: 16,
    hits: 1,
    calls: 15,
  });

  // bad input, no result
  expect((await get('')).status).toBe(400);
  expect((await app.fetch(new Request('http://app/geocode'))).status).toBe(400);
  expect(
    (await app.fetch(new Request('http://app/stores/import', { method: 'POST', body: '{"not":"a list"}' }))).status,
  ).toBe(400);
  expect(await get('nowhere at all')).toMatchObject({ status: 404, body: { error: 'no_result' } });

  // a revoked key is our problem, not the caller's: 502
  fake.outage('request_denied');
  expect(await get('2 Never Seen Lane, Springfield')).toMatchObject({
    status: 502,
    body: { error: 'denied', status: 'REQUEST_DENIED' },
  });
  fake.outage(null);

  // Google down, eight days later (past the 7-day refresh): stale answers with their age; a new address 503
  clock.t += 8 * DAY;
  fake.outage('http_503');
  expect(await get(TOWER)).toMatchObject({ status: 200, body: { stale: true, ageSeconds: 8 * 86_400 } });
  const unseen = await get('1 Never Seen Lane, Springfield');
  expect(unseen).toMatchObject({ status: 503, body: { error: 'unavailable' } });
  expect(Number(unseen.headers.get('retry-after'))).toBeGreaterThan(0);
  fake.outage(null);
  await new Promise((r) => setTimeout(r, 40)); // the breaker's cooldown: the next call is its probe

  // 31 days on: the purge deletes the coordinates, the next lookup refreshes by place id
  clock.t += 31 * DAY;
  const purged = await app.fetch(new Request('http://app/jobs/purge', { method: 'POST' }));
  expect(await purged.json()).toMatchObject({ coordinates: 16 });
  const rows = await db.query<{ coords: number; ids: number }>(
    `SELECT count(lat)::int AS coords, count(place_id)::int AS ids FROM ${schema}.geocode_cache`,
  );
  expect(rows.rows[0]).toEqual({ coords: 0, ids: 16 });
  fake.reset();
  expect(await get(TOWER)).toMatchObject({ status: 200, body: { source: 'google', ageSeconds: 0 } });
  expect(fake.requests.map((r) => r.path.includes('place_id='))).toEqual([true]);
}

describe('examples/geocoding [pglite]', () => {
  let db: SqlClient;
  beforeAll(async () => {
    db = await createPGlite();
  });
  afterAll(async () => db?.close());
  it('serves, imports, survives an outage and keeps to the 30-day terms', async () => {
    await story(db, 'ballast');
  });
});

describeWithPostgres('examples/geocoding', (url) => {
  const schema = uniqueSchema('geoex');
  let db: SqlClient;
  afterAll(async () => {
    await db?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.close();
  });
  it('serves, imports, survives an outage and keeps to the 30-day terms', async () => {
    db = await createPostgres({ connectionString: url, max: 2 });
    await story(db, schema);
  });
});

describe('examples/geocoding main.ts', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill('SIGTERM');
  });

  it('runs: PGlite and the local fake Google by default, over HTTP', async () => {
    const { DATABASE_URL: _db, GOOGLE_MAPS_API_KEY: _key, ...env } = process.env;
    child = spawn(process.execPath, ['--conditions=@ballast/source', '--import', 'tsx', 'geocoding/main.ts'], {
      cwd: new URL('..', import.meta.url),
      env: { ...env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (d) => (output += d));
    const base = await new Promise<string>((resolve, reject) => {
      child?.stdout?.on('data', (d) => {
        output += d;
        const m = /geocoding on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m?.[1]) resolve(m[1]);
      });
      child?.on('exit', (code) => reject(new Error(`main.ts exited with ${code}:\n${output}`)));
    });
    const first = await fetch(`${base}/geocode?address=${encodeURIComponent('10 Downing Street, London')}`);
    expect(await first.json()).toMatchObject({ placeId: 'ChIJRxzRQcUEdkgRGVaKyzmkgvg', source: 'google' });
    expect((await fetch(`${base}/dev/outage/http_503`, { method: 'POST' })).status).toBe(200);
    // cached: still answered (fresh, no call); never seen: 503 at once
    expect(await (await fetch(`${base}/geocode?address=10+downing+street,+london`)).json()).toMatchObject({
      source: 'cache',
    });
    expect((await fetch(`${base}/geocode?address=Somewhere+New`)).status).toBe(503);
  }, 120_000);
});

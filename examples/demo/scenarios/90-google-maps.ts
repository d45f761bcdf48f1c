import { type BreakerStateEvent, circuitBreaker } from '@ballast/core/resilience';
import { migrate } from '@ballast/core/stores/sql';
import {
  type GeocodeHit,
  geocodeCache,
  googleMapsClient,
  isGoogleMapsError,
  purgeGeocodeCache,
  sqlGeocodeStore,
} from '@ballast/google-maps';
import { createFakeGoogleMaps } from '@ballast/google-maps/testing';
import type { Scenario } from '../run';

/**
 * Google Maps: an app geocodes its store addresses through the geocode cache
 * (PGlite, the `geocode_cache` table) against a local fake Google that goes
 * down, comes back, and answers a quota burst as HTTP 200 + OVER_QUERY_LIMIT.
 * Days pass on a virtual clock shared by the cache and the fake; the breaker's
 * cooldown runs in real time (a fraction of a second).
 */

const DAY = 86_400_000;
const STORES = [
  '1600 Amphitheatre Parkway, Mountain View, CA',
  '10 Downing Street, London',
  'Champ de Mars, 5 Av. Anatole France, 75007 Paris, France',
  '12 Rue de la Paix, Paris',
  '221B Baker Street, London',
  '350 Fifth Avenue, New York',
  '1 Harbour Street, Sydney',
  '5 Market Square, Kraków',
];
const THRESHOLD = 3;
const COOLDOWN_MS = 300;
const SCHEMA = 'demo_geocode';

const days = (ms: number) => `${(ms / DAY).toFixed(1)} d`;

const scenario: Scenario = {
  title: 'Google Maps: geocoding that keeps working through an outage, within the 30-day terms',
  async run(report, context) {
    const check = (ok: boolean, text: string) => (ok ? report.ok(text) : report.fail(text));
    const db = await context.db();
    await migrate(db, { schema: SCHEMA, modules: ['geocode'] });
    const table = `${SCHEMA}.geocode_cache`;
    const clock = { t: Date.UTC(2026, 11, 7, 9) };
    const fake = createFakeGoogleMaps({ now: () => clock.t });
    const server = await fake.listen();
    const breakerEvents: BreakerStateEvent[] = [];
    const breaker = circuitBreaker({
      failureThreshold: THRESHOLD,
      cooldownMs: COOLDOWN_MS,
      maxCooldownMs: COOLDOWN_MS,
      onEvent: (e) => {
        if (e.type === 'breaker.open' || e.type === 'breaker.close' || e.type === 'breaker.half_open')
          breakerEvents.push(e);
      },
    });
    const client = googleMapsClient({
      key: 'AIzaDemoKey',
      baseUrl: server.url,
      attempts: 1, // one attempt per lookup, so "N consecutive failures" reads as N lookups
      baseDelayMs: 20,
      maxDelayMs: 100,
      timeoutMs: 1000,
      breaker,
    });
    const store = sqlGeocodeStore(db, { schema: SCHEMA });
    const cache = geocodeCache({ client, store, refreshAfterMs: DAY, now: () => clock.t });
    const breakerState = () => breaker.health()[0]?.state ?? 'closed';
    try {
      // 1. the app geocodes its stores
      const report1 = await cache.geocodeMany([...STORES, STORES[0] as string, STORES[1]?.toUpperCase() as string], {
        onProgress: (p) => report.progress(`geocoding stores: ${p.done}/${p.total}, ${p.calls} calls`),
      });
      const answers = report1.outcomes.map((o) => (o.status === 'fulfilled' ? o.value : null));
      report.table(
        STORES.map((address, i) => ({
          store: address.slice(0, 38),
          'place id': answers[i]?.placeId.slice(0, 16) ?? '-',
          lat: answers[i]?.location.lat.toFixed(5) ?? '-',
          lng: answers[i]?.location.lng.toFixed(5) ?? '-',
        })),
      );
      check(
        report1.ok && report1.stats.calls === STORES.length && fake.requests.length === STORES.length,
        `${STORES.length + 2} lookups (two duplicates, one spelled in capitals) made ${fake.requests.length} calls: one per distinct store`,
      );

      // 2. two days later, Google goes down in the middle of the morning refresh
      clock.t += 2 * DAY;
      report.line('two days later (entries past their 1-day refresh): Google answers 503 from the 4th lookup on');
      const rows: Array<Record<string, string>> = [];
      const morning: Array<GeocodeHit | null> = [];
      let failed = 0;
      for (const [i, address] of STORES.entries()) {
        if (i === 3) fake.outage('http_503');
        const sent = fake.requests.length;
        const t0 = performance.now();
        try {
          const hit = await cache.geocode(address);
          morning.push(hit);
          rows.push({
            store: address.slice(0, 38),
            answer: hit?.stale ? `stale, ${days(hit.ageMs)} old` : `fresh from ${hit?.source}`,
            'sent to Google': fake.requests.length > sent ? 'yes' : 'no (breaker open)',
            breaker: breakerState(),
            ms: (performance.now() - t0).toFixed(1),
          });
        } catch (error) {
          failed++;
          rows.push({ store: address.slice(0, 38), answer: `error ${String((error as { code?: string }).code)}` });
        }
      }
      report.table(rows);
      const opened = breakerEvents.find((e) => e.type === 'breaker.open');
      const refused = rows.filter((r) => r['sent to Google']?.startsWith('no')).length;
      check(
        opened !== undefined &&
          rows[3 + THRESHOLD - 1]?.breaker === 'open' &&
          rows[3 + THRESHOLD - 2]?.breaker !== 'open',
        `the breaker opened after ${THRESHOLD} consecutive failures; the ${refused} lookups after it sent nothing`,
      );
      check(
        failed === 0 && morning.slice(3).every((h) => h?.stale === true && h.ageMs === 2 * DAY),
        `every store still got coordinates: ${STORES.length - 3} served stale from the cache, each marked with its age (2.0 d)`,
      );

      // 3. an address never seen, during the outage: a typed error at once
      const t0 = performance.now();
      const sent = fake.requests.length;
      const unseen = await cache.geocode('77 New Shop Lane, Springfield').catch((e: unknown) => e);
      const ms = performance.now() - t0;
      check(
        isGoogleMapsError(unseen) && unseen.code === 'unavailable' && fake.requests.length === sent && ms < 250,
        `a new address failed fast with GoogleMapsError code ${(unseen as { code?: string }).code} in ${ms.toFixed(1)} ms, nothing sent`,
      );

      // 4. Google recovers; after the cooldown one probe closes the breaker
      fake.outage(null);
      await new Promise((r) => setTimeout(r, COOLDOWN_MS + 20));
      const probe = await cache.geocode(STORES[7] as string);
      check(
        probe?.source === 'google' && breakerState() === 'closed' && breakerEvents.at(-1)?.type === 'breaker.close',
        `Google recovered: after ${COOLDOWN_MS} ms the probe succeeded and the breaker closed (${breakerEvents.map((e) => e.type.slice(8)).join(' → ')})`,
      );

      // 5. 31 days later: the purge job deletes coordinates, keeps place ids; lookups refresh by place id
      clock.t += 31 * DAY;
      const purged = await purgeGeocodeCache({ store, now: () => clock.t });
      const left = await db.query<{ with_coords: number; place_ids: number }>(
        `SELECT count(*) FILTER (WHERE lat IS NOT NULL)::int AS with_coords, count(place_id)::int AS place_ids FROM ${table}`,
      );
      check(
        purged.coordinates === STORES.length &&
          left.rows[0]?.with_coords === 0 &&
          left.rows[0]?.place_ids === STORES.length,
        `31 days later the purge deleted the coordinates of ${purged.coordinates} entries and kept their ${left.rows[0]?.place_ids} place ids`,
      );
      fake.reset();
      const refreshed = await cache.geocodeMany(STORES);
      const byPlaceId = fake.requests.filter((r) => r.path.includes('place_id=')).length;
      const byAddress = fake.requests.filter((r) => r.path.includes('address=')).length;
      check(
        refreshed.ok &&
          byPlaceId === STORES.length &&
          byAddress === 0 &&
          refreshed.outcomes.every((o) => o.status === 'fulfilled' && o.value?.source === 'google'),
        `the next lookups refreshed all ${byPlaceId} entries by place id (${byAddress} by address)`,
      );

      // 6. a quota burst, HTTP 200 with OVER_QUERY_LIMIT in the body, met by the nightly import:
      //    the same table, a client that retries (4 attempts, backing off)
      const importer = geocodeCache({
        client: googleMapsClient({
          key: 'AIzaDemoKey',
          baseUrl: server.url,
          attempts: 4,
          baseDelayMs: 20,
          maxDelayMs: 100,
        }),
        store,
        refreshAfterMs: DAY,
        now: () => clock.t,
      });
      fake.reset();
      fake.outage('over_query_limit', { times: 2 });
      const burst = await importer.geocode('9 Burst Boulevard, Springfield');
      const statuses = fake.requests.map((r) => `${r.httpStatus} ${r.status}`);
      report.line(`a new shop during a quota burst: Google answered ${statuses.join(', ')}`);
      const stored = await db.query<{ place_id: string | null }>(`SELECT place_id FROM ${table} WHERE place_id = $1`, [
        burst?.placeId,
      ]);
      check(
        burst?.source === 'google' &&
          statuses.filter((s) => s === '200 OVER_QUERY_LIMIT').length === 2 &&
          stored.rows.length === 1,
        'the client backed off and retried; only the OK answer reached the cache',
      );
      fake.outage('over_query_limit');
      const before = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      const lasting = await importer.geocode('10 Burst Boulevard, Springfield').catch((e: unknown) => e);
      await importer.flush();
      const after = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      check(
        isGoogleMapsError(lasting) && lasting.code === 'rate_limited' && after.rows[0]?.n === before.rows[0]?.n,
        `a burst that outlasted the retries rejected with code ${(lasting as { code?: string }).code}; nothing was cached (${after.rows[0]?.n} rows before and after)`,
      );
    } finally {
      breaker.close();
      await server.close();
      await db.exec(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    }
  },
};

export default scenario;

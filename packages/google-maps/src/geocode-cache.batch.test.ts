import { describe, expect, it } from 'vitest';
import { type GeocodeBatchProgress, geocodeCache } from './geocode-cache';
import { stubGeocoder } from './geocode-cache.test-support';
import { memoryGeocodeStore } from './geocode-store';

const places = Object.fromEntries(
  Array.from({ length: 50 }, (_, i) => [
    `${i + 1} Main Street, Springfield`,
    { placeId: `ChIJ_${i + 1}`, location: { lat: 39 + i / 100, lng: -89 } },
  ]),
);

describe('geocodeMany', () => {
  it('collapses duplicates, serves hits without a call, and answers in input order', async () => {
    const client = stubGeocoder(structuredClone(places));
    const cache = geocodeCache({ client });
    await cache.geocode('1 Main Street, Springfield'); // a hit in the batch
    const requests = [
      '1 main street, springfield',
      '2 Main Street, Springfield',
      '2 MAIN STREET, SPRINGFIELD',
      '3 Main Street, Springfield',
      'Nowhere 0',
      '2 Main Street,Springfield',
    ];
    const before = client.calls.length;
    const report = await cache.geocodeMany(requests);
    expect(client.calls.length - before).toBe(3); // 2, 3 and Nowhere: one call each
    expect(report.ok).toBe(true);
    expect(report.outcomes.map((o) => (o.status === 'fulfilled' ? (o.value?.placeId ?? null) : o.status))).toEqual([
      'ChIJ_1',
      'ChIJ_2',
      'ChIJ_2',
      'ChIJ_3',
      null,
      'ChIJ_2',
    ]);
    expect(report.stats).toMatchObject({ total: 6, distinct: 4, hits: 1, calls: 3, failed: 0, skipped: 0, stale: 0 });
  });

  it('reports progress: done, total, hits, calls, pending and an estimate', async () => {
    const client = stubGeocoder(structuredClone(places));
    const cache = geocodeCache({ client, concurrency: 2 });
    await cache.geocodeMany(['1 Main Street, Springfield', '2 Main Street, Springfield']);
    const seen: GeocodeBatchProgress[] = [];
    const all = Object.keys(places);
    await cache.geocodeMany([...all, ...all.slice(0, 10)], { onProgress: (p) => seen.push({ ...p }) });
    expect(seen[0]).toMatchObject({ done: 4, total: 60, hits: 4, calls: 0, pending: 48, failed: 0 });
    // before any call, the estimate comes from the quota (3,000 a minute: 20 ms a call)
    expect(seen[0]?.etaMs).toBe(48 * 20);
    expect(seen.at(-1)).toMatchObject({ done: 60, total: 60, hits: 4, calls: 48, pending: 0, etaMs: 0 });
    const dones = seen.map((p) => p.done);
    expect(dones).toEqual([...dones].sort((a, b) => a - b));
  });

  it('is resumable: answers are stored as they arrive, so a rerun calls only what is missing', async () => {
    const client = stubGeocoder(structuredClone(places));
    const store = memoryGeocodeStore();
    client.delay(2);
    const controller = new AbortController();
    const first = geocodeCache({ client, store, concurrency: 1 });
    const all = Object.keys(places);
    const report = await first.geocodeMany(all, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.calls === 20) controller.abort(new Error('deploy'));
      },
    });
    expect(report.stats.calls).toBe(20);
    expect(report.failures).toHaveLength(30);
    expect(report.failures.every((f) => f.status === 'skipped')).toBe(true);
    // a new process (no memory tier left), the same store
    const callsBefore = client.calls.length;
    const second = geocodeCache({ client, store });
    const again = await second.geocodeMany(all);
    expect(client.calls.length - callsBefore).toBe(30);
    expect(again.stats).toMatchObject({ hits: 20, calls: 30 });
    expect(again.ok).toBe(true);
  });

  it('fails only the requests Google could not answer; a rerun retries exactly those', async () => {
    const client = stubGeocoder(structuredClone(places));
    const cache = geocodeCache({ client, concurrency: 1 });
    const all = Object.keys(places).slice(0, 10);
    let n = 0;
    const geocode = client.geocode.bind(client);
    client.geocode = async (request, options) => {
      if (++n === 7) client.mode('down'); // Google goes down after six answers
      return geocode(request, options);
    };
    const report = await cache.geocodeMany([...all, '', { latlng: { lat: 1000, lng: 0 } }]);
    expect(report.stats).toMatchObject({ total: 12, distinct: 10, calls: 10, failed: 6 });
    expect(report.failures.map((f) => [f.index, (f.reason as { code: string }).code])).toEqual([
      [6, 'unavailable'],
      [7, 'unavailable'],
      [8, 'unavailable'],
      [9, 'unavailable'],
      [10, 'invalid_params'],
      [11, 'invalid_params'],
    ]);
    client.mode('up');
    const retry = await cache.geocodeMany(report.failures.slice(0, 4).map((f) => f.request));
    expect(retry.stats).toMatchObject({ calls: 4, hits: 0, failed: 0 });
  });

  it('serves stale entries during an outage and counts them', async () => {
    const client = stubGeocoder(structuredClone(places));
    const clock = { t: 1_000_000 };
    const cache = geocodeCache({ client, refreshAfterMs: 1000, now: () => clock.t });
    await cache.geocodeMany(Object.keys(places).slice(0, 5));
    clock.t += 5000;
    client.mode('down');
    const report = await cache.geocodeMany(Object.keys(places).slice(0, 6));
    expect(report.stats).toMatchObject({ stale: 5, failed: 1, calls: 6 });
    expect(report.outcomes[0]).toMatchObject({ status: 'fulfilled', value: { stale: true, ageMs: 5000 } });
  });

  it('rejects what is not a list, and a bad concurrency', async () => {
    const cache = geocodeCache({ client: stubGeocoder() });
    await expect(cache.geocodeMany(null as never)).rejects.toMatchObject({ code: 'invalid_params' });
    await expect(cache.geocodeMany([], { concurrency: 0 })).rejects.toMatchObject({ code: 'invalid_options' });
    expect((await cache.geocodeMany([])).stats.total).toBe(0);
  });
});

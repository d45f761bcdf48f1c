import { memoryBulkCheckpoints } from '@ballast/core/stores/memory';
import { bulkUpsertPersons, pipedriveClient } from '@ballast/pipedrive';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, type FakePipedrive } from '@ballast/pipedrive/testing';
import { v2 } from 'pipedrive';
import { type BenchRow, report } from '../harness';

/**
 * `pnpm bench pipedrive`: a bulk upsert of persons keyed by an external-id
 * custom field, against the fake Pipedrive's local server (real sockets,
 * real time) with Pipedrive's limits in a compressed window: Lite with an
 * API token allows 20 requests per rolling window, here 500 ms instead of
 * 2 s (same shape, shorter window). 300 records, 60 of them already in
 * Pipedrive: one list page to find those, then one create or update each.
 *
 * Rows (ops/s = the job's requests per second, so two rows' ratio is the
 * ratio of their times):
 * - `theoretical minimum`: the job's requests at exactly 20 per window;
 * - `ballast bulk upsert`: `bulkUpsertPersons` through `pipedriveClient`;
 * - `pipedrive SDK, retry on 429`: the official `pipedrive` SDK (v2 API) with
 *   the loop a user writes: list once, then create or update one record after
 *   the other, and on a 429 wait one window (the documented 2 s, compressed)
 *   and send it again.
 */

const WINDOW = 500;
const LIMIT = 20;
const RECORDS = 300;
const EXISTING = 60;

interface Measured {
  ms: number;
  sent: number;
  rateLimited: number;
  late429: number;
  bans: number;
  written: number;
}

async function withFake(job: (fake: FakePipedrive, url: string, field: string) => Promise<number>): Promise<Measured> {
  const fake = createFakePipedrive({ windowMs: WINDOW, seed: 9, plan: 'lite' });
  const field = fake.customFields.person[0]?.key as string;
  for (let i = 0; i < RECORDS; i += RECORDS / EXISTING)
    fake.create('person', { name: `Old ${i}` }, { custom: { [field]: `crm-${i}` } });
  const server = await fake.listen();
  try {
    // a warm HTTP client, then a quiet window so the job starts on an empty window
    await (
      await fetch(`${server.url}/api/v2/persons?limit=1`, { headers: { 'x-api-token': 'warm-up' } })
    ).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, WINDOW + 50));
    const before = fake.requests.length;
    const t0 = Date.now();
    const written = await job(fake, server.url, field);
    const ms = Date.now() - t0;
    const requests = fake.requests.slice(before);
    const first = requests[0]?.at ?? t0;
    return {
      ms,
      sent: requests.length,
      rateLimited: requests.filter((r) => r.status === 429).length,
      late429: requests.filter((r) => r.status === 429 && r.at - first >= WINDOW).length,
      bans: fake.stats().bans,
      written,
    };
  } finally {
    await server.close();
  }
}

const records = Array.from({ length: RECORDS }, (_, i) => ({ key: `crm-${i}`, data: { name: `Contact ${i}` } }));

const ballast = await withFake(async (_fake, url, field) => {
  const client = pipedriveClient({
    auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
    plan: 'lite',
    baseUrl: url,
    windowMs: WINDOW,
  });
  const result = await bulkUpsertPersons(client, {
    job: 'bench',
    uniqueField: field,
    records,
    checkpoints: memoryBulkCheckpoints(),
  });
  if (result.status !== 'completed' || result.failures.length > 0) throw new Error(JSON.stringify(result.failures));
  return result.created + result.updated;
});

const sdk = await withFake(async (_fake, url, field) => {
  const persons = new v2.PersonsApi(
    new v2.Configuration({ apiKey: FAKE_PIPEDRIVE_API_TOKEN, basePath: `${url}/api/v2` }),
  );
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  // what a user writes: send, and on a 429 wait the window out and send again
  async function retrying<T>(call: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await call();
      } catch (error) {
        if ((error as { errorCode?: number }).errorCode !== 429) throw error;
        await sleep(WINDOW);
      }
    }
  }
  const ids = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const page = await retrying(() => persons.getPersons({ limit: 500, ...(cursor ? { cursor } : {}) }));
    for (const p of page.data ?? []) {
      const key = (p.custom_fields as Record<string, unknown> | undefined)?.[field];
      if (typeof key === 'string') ids.set(key, p.id as number);
    }
    cursor = page.additional_data?.next_cursor ?? undefined;
  } while (cursor);
  let written = 0;
  for (const r of records) {
    const id = ids.get(r.key);
    if (id === undefined)
      await retrying(() =>
        persons.addPerson({ AddPersonRequest: { name: r.data.name, custom_fields: { [field]: r.key } } }),
      );
    else await retrying(() => persons.updatePerson({ id, UpdatePersonRequest: { name: r.data.name } }));
    written++;
  }
  return written;
});

// the job's own requests: one list page and one write per record
const jobRequests = 1 + RECORDS;
const minimumMs = (Math.ceil(jobRequests / LIMIT) - 1) * WINDOW;
const opsPerSec = (ms: number) => (jobRequests / ms) * 1000;
const note = (m: Measured) =>
  `${m.ms} ms, ${m.written} written, ${m.sent} requests sent, ${m.rateLimited} 429s (${m.late429} after the first window), ${m.bans} bans`;
const rows: BenchRow[] = [
  { name: 'theoretical minimum', opsPerSec: opsPerSec(minimumMs), note: `${minimumMs} ms for ${jobRequests} requests` },
  { name: 'ballast bulk upsert', opsPerSec: opsPerSec(ballast.ms), note: note(ballast) },
  { name: 'pipedrive SDK, retry on 429', opsPerSec: opsPerSec(sdk.ms), note: note(sdk) },
];

const timeOver = (name: string) => (r: ReadonlyMap<string, BenchRow>) =>
  (r.get('theoretical minimum')?.opsPerSec ?? Number.NaN) / (r.get(name)?.opsPerSec ?? Number.NaN);

report('pipedrive', rows, [
  {
    label: 'ballast: time / minimum (target <= 1.05)',
    measured: timeOver('ballast bulk upsert'),
    met: (v) => v <= 1.05,
  },
  { label: 'ballast: 429s after the first window (target 0)', measured: () => ballast.late429, met: (v) => v === 0 },
  { label: 'ballast: bans (target 0)', measured: () => ballast.bans, met: (v) => v === 0 },
  {
    label: 'pipedrive SDK, retry on 429, for comparison: time / minimum',
    measured: timeOver('pipedrive SDK, retry on 429'),
  },
  { label: 'pipedrive SDK, retry on 429, for comparison: 429s', measured: () => sdk.rateLimited },
  { label: 'pipedrive SDK, retry on 429, for comparison: bans', measured: () => sdk.bans },
]);

import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate } from '@ballast/core/stores/sql';
import { type SyncPage, syncTable } from '@ballast/core/sync';
import { from as copyFrom } from 'pg-copy-streams';

/**
 * A child process of `pnpm bench sync`: syncs `SYNC_CHILD_RECORDS` records
 * generated page by page (streamed: never more than a page held by the
 * source) into a fresh schema, then the unchanged re-sync and a COPY of the
 * same records into a bare table, and prints one JSON line with rows/s and
 * the process's own peak RSS (`resourceUsage().maxRSS`) after the first load.
 */

const url = process.env.DATABASE_URL as string;
const TOTAL = Number(process.env.SYNC_CHILD_RECORDS ?? 1_000_000);
const PAGE = 500;
const filler = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ';
const contact = (i: number) => ({
  id: i,
  name: `Contact ${i}`,
  email: `contact${i}@example.com`,
  phone: `+1 555 ${String(i).padStart(7, '0')}`,
  org: { id: i % 997, name: `Org ${i % 997}`, address: `${i % 300} Main Street, Springfield` },
  labels: ['customer', i % 2 ? 'emea' : 'amer', `tier-${i % 4}`],
  custom_fields: { score: (i * 7) % 100, source: 'import', segment: `s${i % 13}`, rev: 0 },
  notes: filler.repeat(8).slice(0, 560 + (i % 40)),
  update_time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
  fetched_at: new Date().toISOString(),
});
type Contact = ReturnType<typeof contact>;

async function* pages(): AsyncGenerator<SyncPage<Contact>> {
  for (let offset = 0; offset < TOTAL; offset += PAGE) {
    const records: Contact[] = [];
    for (let i = offset; i < Math.min(offset + PAGE, TOTAL); i++) records.push(contact(i + 1));
    yield { records };
  }
}

const db = await createPostgres({ connectionString: url, max: 4 });
const schema = `bench_stream_${randomBytes(4).toString('hex')}`;
const out: Record<string, number> = { records: TOTAL };
try {
  await migrate(db, { schema, modules: ['sync'] });
  const table = syncTable<Contact>(db, { schema, source: 'bench', entity: 'contacts', volatileFields: ['fetched_at'] });
  out.idleRssMiB = process.memoryUsage().rss / 2 ** 20; // driver loaded, schema migrated, nothing synced
  let started = performance.now();
  const first = await table.run(pages(), { mode: 'full' });
  out.firstLoad = TOTAL / ((performance.now() - started) / 1000);
  out.peakRssMiB = process.resourceUsage().maxRSS / 1024;
  if (first.counts.inserted !== TOTAL) throw new Error(`first load inserted ${first.counts.inserted}`);
  if (process.env.SYNC_CHILD_ONLY_FIRST !== '1') {
    started = performance.now();
    const again = await table.run(pages(), { mode: 'full' });
    out.resync = TOTAL / ((performance.now() - started) / 1000);
    if (again.counts.unchanged !== TOTAL) throw new Error(`re-sync: unchanged ${again.counts.unchanged}`);
    await db.exec(`CREATE TABLE ${schema}.bare (external_id text, data jsonb)`);
    const client = await db.pool.connect();
    started = performance.now();
    try {
      const copy = client.query(copyFrom(`COPY ${schema}.bare (external_id, data) FROM STDIN`));
      async function* lines() {
        for await (const page of pages()) {
          let chunk = '';
          for (const r of page.records) chunk += `${r.id}\t${JSON.stringify(r).replaceAll('\\', '\\\\')}\n`;
          yield chunk;
        }
      }
      await pipeline(lines, copy);
    } finally {
      client.release();
    }
    out.copy = TOTAL / ((performance.now() - started) / 1000);
  }
} finally {
  await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await db.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);

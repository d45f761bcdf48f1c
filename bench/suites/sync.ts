import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate } from '@ballast/core/stores/sql';
import { offsetPages, type SyncTable, syncTable } from '@ballast/core/sync';
import { from as copyFrom } from 'pg-copy-streams';
import { bundled } from '../bundle';
import { bend, type CurvePoint, curveMode, writeCurve } from '../curve';
import { type BenchRow, report, speedup } from '../harness';

/**
 * `pnpm bench sync`: landing 100,000 records of about 1 KB in a sync table on
 * Postgres (DATABASE_URL), against a naive upsert per row and the floor, a
 * COPY into a bare table. The first load goes by COPY into the staging table
 * (decision 1000); the same load by the INSERT path (`copyMinRows: false`)
 * runs in the same rounds, in alternating order. Rows are records per second; each note gives the
 * peak RSS and heap of the process during that row.
 *
 * The naive row is measured on a 5,000-record sample and its rate
 * extrapolated (at about 1 ms per round trip, 100,000 would take minutes).
 * Every row runs twice and keeps its faster attempt: on a shared machine,
 * other work only ever slows a row down. `SYNC_BENCH_RECORDS` sets another
 * record count for a quick run.
 *
 * The records are generated once, before any row is timed (building a 1 KB
 * object costs about as much as hashing it, and it is the provider's work,
 * not the library's); every row reads the same objects. The provider stamps
 * `fetched_at` on each page it serves, so the volatile field really changes
 * between runs. Memory notes give the peak of the whole process, which holds
 * the generated records (their heap is printed once, before the rows).
 */

const url = process.env.DATABASE_URL;
if (!url) {
  console.log('sync: skipped, DATABASE_URL is not set (this suite needs a real Postgres)');
  process.exit(0);
}

/**
 * Runs `children/sync-stream.ts` in its own process (its RSS is its own) and
 * returns its figures. The child is bundled first and run by plain Node
 * (see `bundled`).
 */
async function streamChild(records: number, onlyFirst: boolean): Promise<Record<string, number>> {
  const bundle = await bundled(new URL('../children/sync-stream.ts', import.meta.url));
  const output = execFileSync(process.execPath, [bundle], {
    env: { ...process.env, SYNC_CHILD_RECORDS: String(records), SYNC_CHILD_ONLY_FIRST: onlyFirst ? '1' : '0' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(output.trim().split('\n').pop() as string) as Record<string, number>;
}

/**
 * `--curve`: first load, unchanged re-sync and the COPY floor at 10k, 100k
 * and 1M records generated page by page, each size in its own process;
 * charted as µs per row (flat = cost linear in rows), with each child's
 * peak RSS in the JSON.
 */
if (curveMode) {
  const points: CurvePoint[] = [];
  for (const n of (process.env.SYNC_CURVE_SIZES ?? '10000,100000,1000000').split(',').map(Number)) {
    console.log(`  ${n.toLocaleString('en-US')} records...`);
    const r = await streamChild(n, false);
    const extra = { peakRssMiB: r.peakRssMiB as number };
    points.push({
      series: 'ballast first load',
      x: n,
      y: 1e6 / (r.firstLoad as number),
      extra: { ...extra, rowsPerSec: r.firstLoad as number },
    });
    points.push({
      series: 'ballast unchanged re-sync',
      x: n,
      y: 1e6 / (r.resync as number),
      extra: { rowsPerSec: r.resync as number },
    });
    points.push({
      series: 'COPY into a bare table',
      x: n,
      y: 1e6 / (r.copy as number),
      extra: { rowsPerSec: r.copy as number },
    });
  }
  await writeCurve(
    'sync',
    { title: 'Sync cost per row by rows synced', x: 'records synced', y: 'µs per row', xLog: true },
    points,
    ['ballast first load', 'ballast unchanged re-sync', 'COPY into a bare table'].map(
      (series) => `${series}: largest / smallest µs per row ${bend(points, series).toFixed(2)}`,
    ),
  );
  process.exit(0);
}

const TOTAL = Number(process.env.SYNC_BENCH_RECORDS ?? 100_000);
/** Records of the memory row (streamed into a fresh table by a child process); 0 skips it. */
const MEMORY_RECORDS = Number(process.env.SYNC_BENCH_MEMORY_RECORDS ?? 1_000_000);
const NAIVE_SAMPLE = 5_000;
const PAGE = 500;

interface Contact {
  id: number;
  name: string;
  email: string;
  phone: string;
  org: { id: number; name: string; address: string };
  labels: string[];
  custom_fields: Record<string, string | number>;
  notes: string;
  update_time: string;
  fetched_at: string;
}

const filler = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ';

/** A deterministic record of about 1 KB of JSON; `rev` changes its content. */
function contact(i: number, rev = 0): Contact {
  return {
    id: i,
    name: `Contact ${i}${rev ? ` (rev ${rev})` : ''}`,
    email: `contact${i}@example.com`,
    phone: `+1 555 ${String(i).padStart(7, '0')}`,
    org: { id: i % 997, name: `Org ${i % 997}`, address: `${i % 300} Main Street, Springfield` },
    labels: ['customer', i % 2 ? 'emea' : 'amer', `tier-${i % 4}`],
    custom_fields: { score: (i * 7) % 100, source: 'import', segment: `s${i % 13}`, rev },
    notes: filler.repeat(8).slice(0, 560 + (i % 40)),
    update_time: new Date(1_700_000_000_000 + i * 1000 + rev).toISOString(),
    fetched_at: new Date().toISOString(),
  };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

/** Peak RSS and heap while a row runs, sampled on a timer and on every page. */
function memoryWatch() {
  let rss = 0;
  let heap = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  sample();
  const timer = setInterval(sample, 25);
  return {
    sample,
    stop(): string {
      clearInterval(timer);
      sample();
      return `peak rss ${mib(rss)} MiB, heap ${mib(heap)} MiB`;
    },
  };
}

/** The generated records, base content (`rev` 0); built before any row is timed. */
const heapBefore = process.memoryUsage().heapUsed;
const records: Contact[] = Array.from({ length: TOTAL }, (_, i) => contact(i + 1));
console.log(
  `generated ${TOTAL.toLocaleString('en-US')} records: ${mib(process.memoryUsage().heapUsed - heapBefore)} MiB of heap`,
);

/** The records with every tenth one changed (`rev` = round), shared by reference with `records` otherwise. */
function changedTenth(round: number): Contact[] {
  return records.map((r) => (r.id % 10 === 0 ? contact(r.id, round) : r));
}

/**
 * An in-process provider over pre-built records: offset pages, `fetched_at`
 * stamped per page served. Full runs over offsets re-check delete candidates
 * by id (`fetchByIds`); these runs have none, so it is never called.
 */
function provider(data: readonly Contact[]) {
  return offsetPages<Contact>({
    limit: PAGE,
    async fetch({ offset, limit }) {
      const page = data.slice(offset, Math.min(offset + limit, TOTAL));
      const fetchedAt = new Date().toISOString();
      for (const record of page) record.fetched_at = fetchedAt;
      return { records: page, more: offset + limit < TOTAL };
    },
    async fetchByIds(ids) {
      const wanted = new Set(ids);
      return data.filter((record) => wanted.has(String(record.id)));
    },
  });
}

const db = await createPostgres({ connectionString: url, max: 4 });
const schema = `bench_sync_${randomBytes(4).toString('hex')}`;
const rows: BenchRow[] = [];

const ROUNDS = 2;
const best = new Map<string, BenchRow>();

/** Times one row; across rounds the fastest attempt is kept (the machine's load only ever slows a row down). */
async function timed(name: string, records: number, fn: (sample: () => void) => Promise<void>, extra = '') {
  const watch = memoryWatch();
  const started = performance.now();
  await fn(watch.sample);
  const seconds = (performance.now() - started) / 1000;
  const note = `${records.toLocaleString('en-US')} rows in ${seconds.toFixed(2)} s, ${watch.stop()}${extra}`;
  console.log(`  ${name}: ${Math.round(records / seconds).toLocaleString('en-US')} rows/s (${note})`);
  const row: BenchRow = { name, opsPerSec: records / seconds, note: `best of ${ROUNDS}: ${note}` };
  const previous = best.get(name);
  if (!previous || previous.opsPerSec < row.opsPerSec) best.set(name, row);
}

/** The hashes the shaped table's COPY writes (any 64 hex characters cost the server the same). */
const hashes = records.map((r) => createHash('sha256').update(String(r.id)).digest('hex'));

/** COPY of every record into `table`: a row of text per record, `head` before its JSON and `tail` after. */
async function copyRow(name: string, table: string, columns: string, head: (r: Contact) => string, tail = '') {
  await db.exec(`TRUNCATE ${schema}.${table}`);
  await timed(name, TOTAL, async (sample) => {
    const client = await db.pool.connect();
    try {
      const copy = client.query(copyFrom(`COPY ${schema}.${table} ${columns} FROM STDIN`));
      // text format: tab-separated, with \ , tab and newline escaped in the JSON
      const copyText = (s: string) => s.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n');
      async function* lines() {
        for (let offset = 0; offset < TOTAL; offset += PAGE) {
          let chunk = '';
          for (let i = offset; i < Math.min(offset + PAGE, TOTAL); i++) {
            const record = records[i] as Contact;
            chunk += `${head(record)}\t${copyText(JSON.stringify(record))}${tail}\n`;
          }
          sample();
          yield chunk;
        }
      }
      await pipeline(lines, copy);
    } finally {
      client.release();
    }
  });
}

try {
  await migrate(db, { schema, modules: ['sync'] });
  await db.exec(`
    CREATE TABLE ${schema}.naive (external_id text PRIMARY KEY, data jsonb NOT NULL, synced_at timestamptz NOT NULL);
    CREATE TABLE ${schema}.bare (external_id text, data jsonb);
    CREATE TABLE ${schema}.shaped (LIKE ${schema}.sync_rows INCLUDING ALL);
  `);

  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round} of ${ROUNDS}`);
    await db.exec(`TRUNCATE ${schema}.naive`);
    await timed(
      'naive upsert per row',
      NAIVE_SAMPLE,
      async (sample) => {
        for (let i = 1; i <= NAIVE_SAMPLE; i++) {
          const record = records[i - 1] as Contact;
          await db.query(
            `INSERT INTO ${schema}.naive (external_id, data, synced_at) VALUES ($1, $2, now())
             ON CONFLICT (external_id) DO UPDATE SET data = excluded.data, synced_at = now()`,
            [String(record.id), JSON.stringify(record)],
          );
          if (i % PAGE === 0) sample();
        }
      },
      `; sample of ${NAIVE_SAMPLE.toLocaleString('en-US')}, rate extrapolated to ${TOTAL.toLocaleString('en-US')}`,
    );

    // a fresh entity per round, so each first load starts from an empty table
    const contacts: SyncTable<Contact> = syncTable<Contact>(db, {
      schema,
      source: 'bench',
      entity: `contacts_${round}`,
      volatileFields: ['fetched_at'],
    });
    const run = async (
      name: string,
      data: readonly Contact[],
      expect: Partial<Record<string, number>>,
      detectDeletes = true,
    ) =>
      timed(name, TOTAL, async (sample) => {
        const result = await contacts.run(provider(data), { mode: 'full', onPage: sample, detectDeletes });
        for (const [k, v] of Object.entries(expect)) {
          const got = result.counts[k as keyof typeof result.counts];
          if (got !== v) throw new Error(`${name}: expected ${k} = ${v}, got ${got}`);
        }
      });

    // the same first load by INSERT (COPY off), on its own entity: A/B in the same round, the order alternating
    const byInsert = syncTable<Contact>(db, {
      schema,
      source: 'bench',
      entity: `contacts_insert_${round}`,
      volatileFields: ['fetched_at'],
      copyMinRows: false,
    });
    const insertLoad = () =>
      timed('ballast first load, INSERT path', TOTAL, async (sample) => {
        const result = await byInsert.run(provider(records), { mode: 'full', onPage: sample });
        if (result.counts.inserted !== TOTAL) throw new Error(`INSERT path: inserted ${result.counts.inserted}`);
      });

    const changed = changedTenth(round); // built before the row is timed, like `records`
    if (round % 2 === 0) await insertLoad();
    await run('ballast first load', records, { inserted: TOTAL });
    if (round % 2 === 1) await insertLoad();
    await run('ballast unchanged re-sync', records, { unchanged: TOTAL });
    // the same without delete detection: no count of the live rows as the run opens, no look for unseen rows
    // at the end (two scans of the table's rows), the batches alone
    await run('ballast unchanged re-sync, detectDeletes off', records, { unchanged: TOTAL }, false);
    await run('ballast 10% changed', changed, { changed: Math.floor(TOTAL / 10) });

    await copyRow('COPY into a bare table', 'bare', '(external_id, data)', (r) => `${r.id}`);
    // the same COPY into a table shaped like sync_rows (its columns, defaults and both indexes): what any first
    // load into that table costs the server, whoever writes it (the hashes are computed before the row is timed)
    await copyRow(
      'COPY into a table shaped like sync_rows',
      'shaped',
      '(table_id, external_id, hash, data, run_id)',
      (r) => `1\t${r.id}\t${hashes[r.id - 1]}`,
      '\t1',
    );
  }
  rows.push(...best.values());
  if (MEMORY_RECORDS > 0) {
    console.log(`memory: ${MEMORY_RECORDS.toLocaleString('en-US')} records streamed, first load in a child process`);
    const r = await streamChild(MEMORY_RECORDS, true);
    rows.push({
      name: `peak RSS, first load of ${MEMORY_RECORDS.toLocaleString('en-US')} streamed records (MiB)`,
      opsPerSec: r.peakRssMiB as number,
      note: `the child's own peak RSS (resourceUsage().maxRSS), plain Node on the bundled child, ${Math.round(r.idleRssMiB as number)} MiB before the load; ${Math.round(r.firstLoad as number).toLocaleString('en-US')} rows/s`,
    });
  }
} finally {
  await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await db.close();
}

report('sync', rows, [
  {
    label: 'ballast first load >= 20x naive upsert per row',
    measured: (r) => speedup(r, 'ballast first load', 'naive upsert per row'),
    met: (v) => v >= 20,
  },
  {
    label:
      'COPY into a table shaped like sync_rows against naive upsert per row (what any writer of sync_rows can reach)',
    measured: (r) => speedup(r, 'COPY into a table shaped like sync_rows', 'naive upsert per row'),
  },
  {
    label: 'ballast unchanged re-sync >= 3x faster than first load',
    measured: (r) => speedup(r, 'ballast unchanged re-sync', 'ballast first load'),
    met: (v) => v >= 3,
  },
  {
    label: 'ballast unchanged re-sync, detectDeletes off, against first load (the batches without the two scans)',
    measured: (r) => speedup(r, 'ballast unchanged re-sync, detectDeletes off', 'ballast first load'),
  },
  {
    label: 'ballast first load within 1.5x of COPY (COPY rows/s / first load rows/s)',
    measured: (r) => speedup(r, 'COPY into a bare table', 'ballast first load'),
    met: (v) => v <= 1.5,
  },
  {
    label: 'ballast first load against COPY into a table shaped like sync_rows (its rows/s / first load rows/s)',
    measured: (r) => speedup(r, 'COPY into a table shaped like sync_rows', 'ballast first load'),
    met: (v) => v <= 1.5,
  },
  {
    label: "COPY into a table shaped like sync_rows against a bare table (the schema's own cost, same run)",
    measured: (r) => speedup(r, 'COPY into a bare table', 'COPY into a table shaped like sync_rows'),
  },
  {
    label: `peak RSS syncing ${MEMORY_RECORDS.toLocaleString('en-US')} streamed records < 150 MiB`,
    measured: (r) =>
      r.get(`peak RSS, first load of ${MEMORY_RECORDS.toLocaleString('en-US')} streamed records (MiB)`)?.opsPerSec ??
      Number.NaN,
    met: (v) => v < 150,
  },
  {
    label: 'first load by COPY against the INSERT path (same run; > 1 is faster)',
    measured: (r) => speedup(r, 'ballast first load', 'ballast first load, INSERT path'),
    met: (v) => v > 1,
  },
]);

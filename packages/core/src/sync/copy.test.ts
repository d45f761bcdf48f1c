import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { MissingDependencyError } from '../errors';
import { migrate } from '../stores/migrate';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { type SqlClient, type SqlExecutor, sqlNames } from '../stores/sql';
import { copyField } from './copy-text';
import { isSyncError, type SyncError } from './errors';
import type { SyncPage } from './pages';
import { type SyncTable, syncTable } from './sync-table';

/**
 * The COPY path of sync writes (decision 1000): the same rows, hashes,
 * counts, checkpoints and change feed as the INSERT path, nothing partial
 * after a failure mid-COPY, and a clean fallback where the driver cannot COPY.
 */

interface Rec {
  id: number | string;
  name: string;
  note: string;
  tags: string[];
  fetched_at: string;
}

/** Records with text COPY must escape: backslashes, tabs, newlines, quotes, non-ASCII. */
const rec = (i: number, rev = 0): Rec => ({
  id: i % 7 === 0 ? `id\t${i}\\x\n` : i,
  name: `Name ${i}${rev ? ` rev ${rev}` : ''} "quoted" \\ back\tslash`,
  note: `line one\nline two\r\n€ ${i} 🙂 ${'x'.repeat(i % 50)}`,
  tags: ['a', `t${i % 3}`],
  fetched_at: new Date(1_700_000_000_000 + rev).toISOString(),
});

const pages = (records: readonly Rec[], size = 300) =>
  (async function* (): AsyncGenerator<SyncPage<Rec>> {
    for (let i = 0; i < records.length; i += size) yield { records: records.slice(i, i + size) };
  })();

async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    if (isSyncError(error)) return error;
    throw error;
  }
  throw new Error('expected a SyncError, the promise resolved');
}

/** The client with its transactions' `copyFrom` replaced (or removed, with `undefined`). */
function withCopy(
  db: SqlClient,
  copy: ((tx: SqlExecutor) => SqlExecutor['copyFrom']) | undefined,
  counter = { calls: 0 },
): SqlClient {
  return {
    ...db,
    transaction: (fn) =>
      db.transaction((tx) => {
        const inner = copy?.(tx);
        const wrapped: SqlExecutor = { query: (text, params) => tx.query(text, params) };
        if (inner) {
          wrapped.copyFrom = (table, columns, data) => {
            counter.calls++;
            return inner(table, columns, data);
          };
        }
        return fn(wrapped);
      }),
  };
}

function copyContract(open: () => Promise<SqlClient>): void {
  let db: SqlClient;
  const schema = uniqueSchema('synccopy');
  const names = sqlNames(schema);
  let n = 0;
  const table = (client: SqlClient, copyMinRows: number | false, batchSize = 200): SyncTable<Rec> =>
    syncTable<Rec>(client, {
      schema,
      source: 'copy',
      entity: `e${++n}`,
      volatileFields: ['fetched_at'],
      copyMinRows,
      batchSize,
    });
  /** A spy on the tables COPY went into. */
  const targets = (into: string[]) =>
    withCopy(db, (tx) => {
      const copyFrom = tx.copyFrom?.bind(tx);
      return (
        copyFrom &&
        ((tbl, cols, data) => {
          into.push(tbl.includes('sync_rows') ? 'rows' : 'stage');
          return copyFrom(tbl, cols, data);
        })
      );
    });
  /** The table's rows in change-feed order, with what a mapper reads. */
  const feed = async (t: SyncTable<Rec>) =>
    (
      await db.query<{ external_id: string; data: unknown; hash: string; deleted: boolean }>(
        `SELECT external_id, data, hash, deleted_at IS NOT NULL AS deleted FROM ${names.table('sync_rows')}
         WHERE table_id = $1 ORDER BY change_seq`,
        [await t.tableId()],
      )
    ).rows;
  const stripCounts = (r: { counts: unknown; status: string; pages: number }) => ({
    counts: r.counts,
    status: r.status,
    pages: r.pages,
  });

  beforeAll(async () => {
    db = await open();
    await migrate(db, { schema, modules: ['sync'] });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${names.quotedSchema} CASCADE`);
    await db.close();
  });

  it('stores the same rows, hashes, counts and change feed as the INSERT path, through a full life cycle', async () => {
    const into: string[] = [];
    const byCopy = table(targets(into), 1);
    const byInsert = table(db, false);
    const base = Array.from({ length: 700 }, (_, i) => rec(i + 1));
    const changed = base.map((r, i) => (i % 10 === 0 ? rec(i + 1, 1) : r));
    const shrunk = changed.filter((_, i) => i % 50 !== 1); // 14 deleted, within the guard
    const back = changed; // the 14 come back
    const steps: Rec[][] = [base, base, changed, shrunk, back];
    for (const [step, records] of steps.entries()) {
      const a = await byCopy.run(pages(records), { mode: 'full' });
      const b = await byInsert.run(pages(records), { mode: 'full' });
      expect(stripCounts(a), `step ${step}`).toEqual(stripCounts(b));
    }
    // the first load into an empty table goes straight into sync_rows; later writes are staged and merged
    expect(into.slice(0, 4)).toEqual(['rows', 'rows', 'rows', 'rows']);
    expect(into).toContain('stage');
    // upsert outside a run: several chunks in one transaction share the staging table
    const more = Array.from({ length: 40 }, (_, i) => rec(1000 + i));
    expect(await byCopy.upsert(more)).toEqual(await byInsert.upsert(more));
    const [copied, inserted] = [await feed(byCopy), await feed(byInsert)];
    expect(copied).toHaveLength(740);
    expect(copied).toEqual(inserted);
    expect(copied.find((r) => r.external_id === 'id\t7\\x\n')?.data).toEqual(rec(7));
    expect((await byCopy.get(3))?.data).toEqual(changed[2]);
  });

  it('a first load that meets stored rows: the straight COPY conflicts, its transaction rolls back and the batch is stored again, looked up and merged', async () => {
    const records = Array.from({ length: 600 }, (_, i) => rec(i + 1));
    const stored = records.slice(200, 400).map((r, i) => (i % 2 ? rec(201 + i, 5) : r));
    const into: string[] = [];
    const byCopy = table(targets(into), 1);
    const byInsert = table(db, false);
    for (const t of [byCopy, byInsert]) await t.upsert(stored);
    into.length = 0;
    const a = await byCopy.run(pages(records, 200), { mode: 'full' });
    const b = await byInsert.run(pages(records, 200), { mode: 'full' });
    expect(a.counts).toEqual({ seen: 600, inserted: 400, changed: 100, unchanged: 100, deleted: 0, failed: 0 });
    expect(a.counts).toEqual(b.counts);
    // chunk 1 straight in; chunk 2 tried straight (conflict, the transaction rolled back) then staged; chunk 3 compared again, all new: straight in
    expect(into).toEqual(['rows', 'rows', 'stage', 'rows']);
    expect(await feed(byCopy)).toEqual(await feed(byInsert));
  });

  it('leaves nothing of a batch whose COPY fails midway, and the run resumes from its checkpoint', async () => {
    const records = Array.from({ length: 1200 }, (_, i) => rec(i + 1));
    let failAt = 2; // the second batch's COPY breaks after its first chunk
    const breaking = withCopy(db, (tx) => async (tbl, cols, data) => {
      if (--failAt !== 0) return (tx.copyFrom as NonNullable<SqlExecutor['copyFrom']>)(tbl, cols, data);
      const copyFrom = tx.copyFrom as NonNullable<SqlExecutor['copyFrom']>;
      return copyFrom(
        tbl,
        cols,
        (function* () {
          let first = true;
          for (const chunk of data as Iterable<string>) {
            if (!first) throw new Error('the connection broke mid-COPY');
            first = false;
            yield chunk;
          }
        })(),
      );
    });
    const source = (start: { cursor: string | null }) =>
      (async function* (): AsyncGenerator<SyncPage<Rec>> {
        for (let i = start.cursor === null ? 0 : Number(start.cursor); i < records.length; i += 500) {
          yield { records: records.slice(i, i + 500), next: i + 500 < records.length ? String(i + 500) : null };
        }
      })();
    const t = syncTable<Rec>(breaking, {
      schema,
      source: 'copy',
      entity: `e${++n}`,
      volatileFields: ['fetched_at'],
      batchSize: 500,
      copyMinRows: 1,
    });
    const error = await rejection(t.run(source, { mode: 'full' }));
    expect(error.code).toBe('store_failed');
    // the first batch is stored with its checkpoint; nothing of the second
    expect(await t.count()).toBe(500);
    const [interrupted] = await t.runs({ limit: 1 });
    expect(interrupted).toMatchObject({ status: 'interrupted', pages: 1, cursor: '500' });
    expect(interrupted?.counts).toMatchObject({ seen: 500, inserted: 500 });

    const resumed = await t.run(source, { mode: 'full' });
    expect(resumed).toMatchObject({ status: 'completed', resumed: true, id: interrupted?.id, pages: 3 });
    expect(resumed.counts).toEqual({ seen: 1200, inserted: 1200, changed: 0, unchanged: 0, deleted: 0, failed: 0 });
    expect(await t.count()).toBe(1200);
    const clean = table(db, false);
    await clean.run(pages(records, 500), { mode: 'full' });
    expect(await feed(t)).toEqual(await feed(clean));
  });

  it('a record the database refuses mid-COPY fails its whole batch: nothing partial, resumable once the source is fixed', async () => {
    const good = Array.from({ length: 900 }, (_, i) => rec(i + 1));
    // jsonb refuses \u0000: the COPY fails on the server, at row 700
    let records = good.map((r, i) => (i === 699 ? { ...r, note: 'nul \u0000 here' } : r));
    const source = (start: { cursor: string | null }) =>
      (async function* (): AsyncGenerator<SyncPage<Rec>> {
        for (let i = start.cursor === null ? 0 : Number(start.cursor); i < records.length; i += 600) {
          yield { records: records.slice(i, i + 600), next: i + 600 < records.length ? String(i + 600) : null };
        }
      })();
    const counter = { calls: 0 };
    const t = syncTable<Rec>(
      withCopy(db, (tx) => tx.copyFrom?.bind(tx), counter),
      { schema, source: 'copy', entity: `e${++n}`, volatileFields: ['fetched_at'], batchSize: 600, copyMinRows: 1 },
    );
    const error = await rejection(t.run(source, { mode: 'full' }));
    expect(error.code).toBe('store_failed');
    expect(counter.calls).toBe(2);
    expect(await t.count()).toBe(600);
    records = good;
    const resumed = await t.run(source, { mode: 'full' });
    expect(resumed).toMatchObject({ status: 'completed', resumed: true });
    expect(resumed.counts).toMatchObject({ seen: 900, inserted: 900 });
    expect(await t.count()).toBe(900);
  });

  it('falls back to INSERT, once and for good, when the driver misses its COPY package', async () => {
    const counter = { calls: 0 };
    const missing = withCopy(
      db,
      () => async () => {
        throw new MissingDependencyError('copyFrom', 'pg-copy-streams');
      },
      counter,
    );
    const t = table(missing, 1);
    const records = Array.from({ length: 600 }, (_, i) => rec(i + 1));
    const run = await t.run(pages(records), { mode: 'full' });
    expect(run.counts).toMatchObject({ seen: 600, inserted: 600, failed: 0 });
    expect(counter.calls).toBe(1);
    const clean = table(db, false);
    await clean.run(pages(records), { mode: 'full' });
    expect(await feed(t)).toEqual(await feed(clean));
  });

  it('writes by INSERT where the driver has no copyFrom, and below copyMinRows', async () => {
    const none = table(
      withCopy(db, () => undefined),
      1,
    );
    const counter = { calls: 0 };
    const small = table(
      withCopy(db, (tx) => tx.copyFrom?.bind(tx), counter),
      500,
    );
    const records = Array.from({ length: 300 }, (_, i) => rec(i + 1));
    expect((await none.run(pages(records), { mode: 'full' })).counts).toMatchObject({ inserted: 300 });
    expect((await small.run(pages(records), { mode: 'full' })).counts).toMatchObject({ inserted: 300 });
    expect(counter.calls).toBe(0);
  });

  it('the driver copies COPY text with its escapes verbatim and reports the rows', async () => {
    const tbl = names.table(`bare_${++n}`);
    await db.exec(`CREATE TABLE ${tbl} (k text, v jsonb)`);
    const key = 'tab\there\\ and\nnewline';
    const rows = await db.transaction(async (tx) => {
      if (!tx.copyFrom) throw new Error('this driver should offer copyFrom');
      return tx.copyFrom(tbl, ['k', 'v'], [`${copyField(key)}\t{"a":"x\\\\\\"y"}\n`, 'plain\t[1,2]\n']);
    });
    expect(rows).toBe(2);
    const found = await db.query<{ k: string; v: unknown }>(`SELECT k, v FROM ${tbl} ORDER BY k`);
    expect(found.rows).toEqual([
      { k: 'plain', v: [1, 2] },
      { k: key, v: { a: 'x"y' } },
    ]);
  });
}

describe('sync writes by COPY on PGlite', () => {
  copyContract(() => createPGlite());
});

describeWithPostgres('sync writes by COPY', (url) => {
  copyContract(() => createPostgres({ connectionString: url, max: 4 }));
});

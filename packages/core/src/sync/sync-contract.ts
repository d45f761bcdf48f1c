import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { type SqlClient, type SqlExecutor, sqlNames } from '../stores/sql';
import { isSyncError, type SyncError } from './errors';
import { mapper } from './mapper';
import { cursorPages, offsetPages, type PageSource, type SourceStart, type SyncPage } from './pages';
import { type SyncTable, syncTable } from './sync-table';

/**
 * The behaviour every database behind `@ballast/core/sync` must show: run by
 * `sync.test.ts` on PGlite and on Postgres.
 */

interface Person {
  id: number;
  name: string;
  emails: Array<{ value: string; primary: boolean }>;
  fetched_at: string;
}

const person = (i: number, rev = 0): Person => ({
  id: i,
  name: `Person ${i}${rev > 0 ? ` rev ${rev}` : ''}`,
  emails: [{ value: `p${i}@example.com`, primary: true }],
  fetched_at: new Date(1_700_000_000_000 + rev).toISOString(),
});

/** A fake provider: cursor pages over a list, recording where each fetch started; can fail at one page. */
function provider<T>(records: () => readonly T[], pageSize: number, failAtPage?: { page: number; times: number }) {
  const starts: SourceStart[] = [];
  const fetched: Array<string | null> = [];
  let failures = failAtPage?.times ?? 0;
  const source: PageSource<T> = (start) => {
    starts.push(start);
    return cursorPages<T>({
      async fetch({ cursor }) {
        const offset = cursor === null ? 0 : Number(cursor);
        const page = offset / pageSize + 1;
        if (failAtPage && page === failAtPage.page && failures > 0) {
          failures--;
          throw new Error(`provider 503 on page ${page}`);
        }
        fetched.push(cursor);
        const all = records();
        const slice = all.slice(offset, offset + pageSize);
        return { records: slice, next: offset + pageSize < all.length ? String(offset + pageSize) : null };
      },
    })(start);
  };
  return { source, starts, fetched };
}

async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    if (isSyncError(error)) return error;
    throw error;
  }
  throw new Error('expected a SyncError, the promise resolved');
}

/** Table options every table of the contract gets (e.g. `copyMinRows: 1`, to store every write by COPY). */
export type ContractDefaults = Pick<Parameters<typeof syncTable>[1], 'copyMinRows'>;

/** Runs the sync contract against one database. */
export function syncContract(open: () => Promise<SqlClient>, defaults: ContractDefaults = {}): void {
  let db: SqlClient;
  const schema = uniqueSchema('sync');
  const names = sqlNames(schema);
  let n = 0;
  /** A fresh table (its own entity) per test. */
  const table = (extra: Partial<Parameters<typeof syncTable<Person>>[1]> = {}): SyncTable<Person> =>
    syncTable<Person>(db, {
      schema,
      source: 'fakedrive',
      entity: `persons_${++n}`,
      volatileFields: ['fetched_at'],
      ...defaults,
      ...extra,
    });
  const versions = async (t: SyncTable<Person>) =>
    (
      await db.query<{ external_id: string; change_seq: string; changed_at: Date; synced_at: Date; tuple: string }>(
        `SELECT external_id, change_seq::text, changed_at, synced_at, xmin::text AS tuple FROM ${names.table('sync_rows')}
         WHERE table_id = $1 ORDER BY external_id`,
        [await t.tableId()],
      )
    ).rows;

  beforeAll(async () => {
    db = await open();
    await migrate(db, { schema, modules: ['sync'] });
  });
  afterAll(async () => {
    await db.exec(`DROP SCHEMA IF EXISTS ${names.quotedSchema} CASCADE`);
    await db.close();
  });

  describe('syncTable runs', () => {
    it('stores every record of a first full run with counts and row metadata', async () => {
      const t = table();
      const records = Array.from({ length: 25 }, (_, i) => person(i + 1));
      const run = await t.run(provider(() => records, 10).source, { mode: 'full' });
      expect(run).toMatchObject({ status: 'completed', mode: 'full', pages: 3, resumed: false, cursor: null });
      expect(run.counts).toEqual({ seen: 25, inserted: 25, changed: 0, unchanged: 0, deleted: 0, failed: 0 });
      expect(await t.count()).toBe(25);
      const row = await t.get(7);
      expect(row?.data).toEqual(records[6]);
      expect(row?.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row?.runId).toBe(run.id);
      expect(row?.deletedAt).toBeNull();
      expect(row?.firstSeenAt).toBeInstanceOf(Date);
      expect(await t.get('nope')).toBeUndefined();
      const [listed] = await t.runs({ limit: 1 });
      expect(listed?.id).toBe(run.id);
    });

    it('a re-sync of unchanged data writes no rows, whatever the key order and volatile fields', async () => {
      const t = table();
      const records = Array.from({ length: 30 }, (_, i) => person(i + 1));
      await t.run(provider(() => records, 7).source, { mode: 'full' });
      const before = await versions(t);
      // same content: keys reordered, the volatile fetched_at changed
      const again = records.map((r) => ({
        fetched_at: new Date().toISOString(),
        emails: r.emails.map((e) => ({ primary: e.primary, value: e.value })),
        name: r.name,
        id: r.id,
      }));
      const run = await t.run(provider(() => again, 7).source, { mode: 'full' });
      expect(run.counts).toEqual({ seen: 30, inserted: 0, changed: 0, unchanged: 30, deleted: 0, failed: 0 });
      const after = await versions(t);
      // same tuple versions (xmin), change sequence, changed_at and synced_at: nothing was rewritten
      expect(after).toEqual(before);
      expect((await t.get(1))?.data).toEqual(records[0]);
    });

    it('writes only the changed records of a re-sync and moves them up the change feed', async () => {
      const t = table();
      const records = Array.from({ length: 40 }, (_, i) => person(i + 1));
      await t.run(provider(() => records, 10).source, { mode: 'full' });
      const before = new Map((await versions(t)).map((r) => [r.external_id, r]));
      const edited = records.map((r) => (r.id % 10 === 0 ? person(r.id, 1) : r));
      const run = await t.run(provider(() => edited, 10).source, { mode: 'full' });
      expect(run.counts).toMatchObject({ seen: 40, inserted: 0, changed: 4, unchanged: 36 });
      const maxBefore = Math.max(...[...before.values()].map((r) => Number(r.change_seq)));
      for (const row of await versions(t)) {
        const old = before.get(row.external_id);
        if (Number(row.external_id) % 10 === 0) {
          expect(Number(row.change_seq)).toBeGreaterThan(maxBefore);
          expect(row.tuple).not.toBe(old?.tuple);
        } else {
          expect(row).toEqual(old);
        }
      }
      expect((await t.get(10))?.data).toEqual(edited[9]);
    });

    it('resumes a run interrupted after page 3 of 10 at page 4, with no duplicates and correct counts', async () => {
      const t = table();
      const records = Array.from({ length: 100 }, (_, i) => person(i + 1));
      const flaky = provider(() => records, 10, { page: 4, times: 1 });
      const pagesSeen: number[] = [];
      const failure = await rejection(t.run(flaky.source, { mode: 'full', onPage: (p) => pagesSeen.push(p.pages) }));
      expect(failure.code).toBe('source_failed');
      expect(failure.message).toContain('after 3 stored pages');
      // the three fetched pages were stored (with their checkpoint) before the failure was reported
      expect(pagesSeen).toEqual([3]);
      const [interrupted] = await t.runs();
      expect(interrupted).toMatchObject({ status: 'interrupted', pages: 3, cursor: '30', errorCode: 'source_failed' });
      expect(await t.count()).toBe(30);

      const run = await t.run(flaky.source, { mode: 'full' });
      expect(run.id).toBe(interrupted?.id);
      expect(run.resumed).toBe(true);
      expect(flaky.starts.map((s) => s.cursor)).toEqual([null, '30']);
      // pages 1-3 fetched once, page 4 onwards fetched by the resumed run only
      expect(flaky.fetched).toEqual([null, '10', '20', '30', '40', '50', '60', '70', '80', '90']);
      expect(run).toMatchObject({ status: 'completed', pages: 10 });
      expect(run.counts).toEqual({ seen: 100, inserted: 100, changed: 0, unchanged: 0, deleted: 0, failed: 0 });
      expect(await t.count({ includeDeleted: true })).toBe(100);
    });

    it('refuses a full sync that sees only 70% of the known rows, says why, and deletes nothing', async () => {
      const t = table();
      const records = Array.from({ length: 100 }, (_, i) => person(i + 1));
      await t.run(provider(() => records, 25).source, { mode: 'full' });
      const partial = records.slice(0, 70);
      const error = await rejection(t.run(provider(() => partial, 25).source, { mode: 'full' }));
      expect(error.code).toBe('mass_delete');
      expect(error).toMatchObject({ wouldDelete: 30, known: 100, maxDeleteRatio: 0.2 });
      expect(error.message).toContain('did not see 30 of the 100 rows live when it started (30.0%)');
      expect(error.message).toContain('force');
      expect(await t.count()).toBe(100);
      const [refused] = await t.runs();
      expect(refused).toMatchObject({ status: 'failed', errorCode: 'mass_delete' });
      expect(refused?.counts).toMatchObject({ seen: 70, unchanged: 70, deleted: 0 });

      // a higher per-run ratio, or force, lets the deletes through
      const forced = await t.run(provider(() => partial, 25).source, { mode: 'full', force: true });
      expect(forced.counts.deleted).toBe(30);
      expect(await t.count()).toBe(70);
      expect((await t.get(100))?.deletedAt).toBeInstanceOf(Date);
    });

    it('refuses a full run after the provider renumbered its ids: 4,200 new records, the 1,000 rows live before all unseen', async () => {
      const t = table();
      const before = Array.from({ length: 1000 }, (_, i) => person(i + 1));
      await t.run(provider(() => before, 500).source, { mode: 'full' });
      // the same people under new ids, and more of them: the run inserts 4,200 rows, which must not dilute the guard
      const renumbered = Array.from({ length: 4200 }, (_, i) => person(10_001 + i));
      const error = await rejection(t.run(provider(() => renumbered, 500).source, { mode: 'full' }));
      expect(error.code).toBe('mass_delete');
      expect(error).toMatchObject({ wouldDelete: 1000, known: 1000, maxDeleteRatio: 0.2 });
      expect(error.message).toContain('did not see 1000 of the 1000 rows live when it started (100.0%)');
      expect(await t.count()).toBe(5200);
      expect((await t.get(1))?.deletedAt).toBeNull();
      const [refused] = await t.runs({ limit: 1 });
      expect(refused).toMatchObject({ status: 'failed', errorCode: 'mass_delete', liveAtStart: 1000 });
      expect(refused?.counts).toMatchObject({ seen: 4200, inserted: 4200, deleted: 0 });
    });

    it('soft-deletes unseen rows within the ratio, and restores a row that comes back', async () => {
      const t = table({ maxDeleteRatio: 0.1 });
      const records = Array.from({ length: 50 }, (_, i) => person(i + 1));
      await t.run(provider(() => records, 20).source, { mode: 'full' });
      const run = await t.run(provider(() => records.slice(0, 45), 20).source, { mode: 'full' });
      expect(run.counts).toMatchObject({ deleted: 5, unchanged: 45 });
      expect(await t.count()).toBe(45);
      expect(await t.count({ includeDeleted: true })).toBe(50);
      const back = await t.run(provider(() => records, 20).source, { mode: 'full' });
      expect(back.counts).toMatchObject({ changed: 5, unchanged: 45, deleted: 0 });
      expect((await t.get(50))?.deletedAt).toBeNull();
    });

    it('skips the look for unseen rows when no row was live as the run opened, and looks again on the next run', async () => {
      const looks: string[] = [];
      const spy = (q: SqlExecutor): SqlExecutor => ({
        ...q,
        query: (text, params) => {
          if (text.includes('EXCEPT')) looks.push(text);
          return q.query(text, params);
        },
      });
      const watched: SqlClient = { ...db, transaction: (fn) => db.transaction((tx) => fn(spy(tx))) };
      const t = syncTable<Person>(watched, {
        schema,
        source: 'fakedrive',
        entity: `persons_${++n}`,
        volatileFields: ['fetched_at'],
        ...defaults,
      });
      const records = Array.from({ length: 30 }, (_, i) => person(i + 1));
      const first = await t.run(provider(() => records, 10).source, { mode: 'full' });
      expect(first.counts).toMatchObject({ inserted: 30, deleted: 0 });
      expect(looks).toHaveLength(0);
      const next = await t.run(provider(() => records.slice(0, 28), 10).source, { mode: 'full' });
      expect(next.counts).toMatchObject({ unchanged: 28, deleted: 2 });
      expect(looks.length).toBeGreaterThan(0);
      // a table whose rows were all deleted is empty again: its next full run skips the look too
      looks.length = 0;
      await t.markDeleted(records.slice(0, 28).map((r) => r.id));
      const again = await t.run(provider(() => records.slice(0, 5), 10).source, { mode: 'full' });
      expect(again.counts).toMatchObject({ changed: 5, deleted: 0 });
      expect(looks).toHaveLength(0);
      expect(await t.count()).toBe(5);
    });

    it('never deletes after a partial fetch: a full run whose source fails stays open and deletes nothing', async () => {
      const t = table();
      const records = Array.from({ length: 40 }, (_, i) => person(i + 1));
      await t.run(provider(() => records, 10).source, { mode: 'full' });
      const error = await rejection(
        t.run(provider(() => records, 10, { page: 2, times: 5 }).source, { mode: 'full', maxDeleteRatio: 1 }),
      );
      expect(error.code).toBe('source_failed');
      expect(await t.count()).toBe(40);
      expect((await t.runs())[0]?.status).toBe('interrupted');
      // starting over instead of resuming abandons the open run
      const fresh = await t.run(provider(() => records, 10).source, { mode: 'full', resume: false });
      expect(fresh.resumed).toBe(false);
      expect(fresh.counts).toMatchObject({ seen: 40, unchanged: 40, deleted: 0 });
      expect((await t.runs()).map((r) => r.status)).toEqual(['completed', 'abandoned', 'completed']);
    });

    it('stops a run whose open record another process took over, with run_conflict', async () => {
      const t = table({ batchSize: 10 });
      const other = table({ source: t.source, entity: t.entity }); // the same table, as another process sees it
      const records = Array.from({ length: 40 }, (_, i) => person(i + 1));
      let tookOver = false;
      // while page 3 is fetched, another process starts over (abandoning this run) and completes
      const source: PageSource<Person> = (start) =>
        cursorPages<Person>({
          async fetch({ cursor }) {
            const offset = Number(cursor ?? 0);
            if (offset === 20 && !tookOver) {
              tookOver = true;
              await other.run(provider(() => records, 10).source, { mode: 'full', resume: false });
            }
            return { records: records.slice(offset, offset + 10), next: offset + 10 < 40 ? String(offset + 10) : null };
          },
        })(start);
      const error = await rejection(t.run(source, { mode: 'full' }));
      expect(error.code).toBe('run_conflict');
      const [latest, first] = await t.runs({ limit: 2 });
      expect(latest).toMatchObject({ status: 'completed', counts: expect.objectContaining({ seen: 40 }) });
      expect(first?.status).toBe('abandoned');
      expect(await t.count()).toBe(40);
    });

    it('stops an unchanged re-sync whose run another process took over, with run_conflict', async () => {
      // unchanged batches checkpoint in one statement, outside a transaction block: the same compare-and-set guards it
      const t = table({ batchSize: 10 });
      const other = table({ source: t.source, entity: t.entity }); // the same table, as another process sees it
      const records = Array.from({ length: 80 }, (_, i) => person(i + 1));
      let fetched = 0;
      await t.run(provider(() => records, 10).source, { mode: 'full' });
      const before = await versions(t);
      let tookOver = false;
      const source: PageSource<Person> = (start) =>
        cursorPages<Person>({
          async fetch({ cursor }) {
            const offset = Number(cursor ?? 0);
            fetched++;
            if (offset === 20 && !tookOver) {
              tookOver = true;
              await other.run(provider(() => records, 10).source, { mode: 'full', resume: false });
            }
            return { records: records.slice(offset, offset + 10), next: offset + 10 < 80 ? String(offset + 10) : null };
          },
        })(start);
      const error = await rejection(t.run(source, { mode: 'full' }));
      expect(error.code).toBe('run_conflict');
      // stopped at the first checkpoint after the takeover, not at the end of the source
      expect(fetched).toBeLessThan(6);
      const [latest, abandoned] = await t.runs({ limit: 2 });
      expect(latest?.counts).toEqual({ seen: 80, inserted: 0, changed: 0, unchanged: 80, deleted: 0, failed: 0 });
      expect(abandoned?.status).toBe('abandoned');
      expect(abandoned?.pages).toBeLessThan(4);
      expect(await versions(t)).toEqual(before);
      // the abandoned run's seen ids were cleared: nothing is left for a later run to misread
      const seen = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${names.table('sync_seen')} WHERE run_id = $1`,
        [abandoned?.id],
      );
      expect(seen.rows[0]?.n).toBe(0);
    });

    it('starts an incremental run from the last completed run, and never deletes in one', async () => {
      const t = table();
      const records = Array.from({ length: 12 }, (_, i) => person(i + 1));
      const first = await t.run(provider(() => records, 5).source, { mode: 'full' });
      // an updated_since-style source: it reads `since`, returns what changed, and a cursor to keep
      const starts: SourceStart[] = [];
      const changes = (records: Person[], next: string | null): PageSource<Person> =>
        async function* (start) {
          starts.push(start);
          yield { records, next };
        };
      const inc = await t.run(changes([person(3, 2), person(13)], 'token-2'), { mode: 'incremental' });
      // without a cursorField, since is the previous run's start minus the default lookback of 5 minutes
      const since = new Date(first.startedAt.getTime() - 300_000);
      expect(starts[0]).toMatchObject({ mode: 'incremental', since, cursor: null, lastCursor: '10' });
      expect(inc.counts).toEqual({ seen: 2, inserted: 1, changed: 1, unchanged: 0, deleted: 0, failed: 0 });
      expect(await t.count()).toBe(13);
      await t.run(changes([], null), { mode: 'incremental' });
      expect(starts[1]).toMatchObject({
        since: new Date(inc.startedAt.getTime() - 300_000),
        cursor: null,
        lastCursor: 'token-2',
      });
      // a run that sees no cursor keeps the feed position for the next one
      await t.run(changes([], null), { mode: 'incremental' });
      expect(starts[2]?.lastCursor).toBe('token-2');
    });

    it('groups small pages into batches of batchSize records, one checkpoint each', async () => {
      const t = table({ batchSize: 25 });
      const records = Array.from({ length: 100 }, (_, i) => person(i + 1));
      const progress: Array<[number, string | null]> = [];
      const run = await t.run(provider(() => records, 10).source, {
        mode: 'full',
        onPage: (p) => progress.push([p.pages, p.cursor]),
      });
      expect(progress).toEqual([
        [3, '30'],
        [6, '60'],
        [9, '90'],
        [10, null],
      ]);
      expect(run.counts).toMatchObject({ seen: 100, inserted: 100 });
    });

    it('stops between pages when aborted, and resumes later', async () => {
      const t = table({ batchSize: 10 });
      const records = Array.from({ length: 30 }, (_, i) => person(i + 1));
      const controller = new AbortController();
      // the signal fires while page 2 is being fetched
      const source: PageSource<Person> = (start) =>
        cursorPages<Person>({
          async fetch({ cursor }) {
            const offset = Number(cursor ?? 0);
            if (offset === 10) controller.abort(new Error('shutting down'));
            return { records: records.slice(offset, offset + 10), next: offset + 10 < 30 ? String(offset + 10) : null };
          },
        })(start);
      const error = await rejection(t.run(source, { mode: 'full', signal: controller.signal }));
      expect(error.code).toBe('aborted');
      expect((error.cause as Error).message).toBe('shutting down');
      expect((await t.runs())[0]).toMatchObject({
        status: 'interrupted',
        pages: 1,
        cursor: '10',
        errorCode: 'aborted',
      });
      const run = await t.run(provider(() => records, 10).source, { mode: 'full' });
      expect(run).toMatchObject({ resumed: true, pages: 3 });
      expect(run.counts).toMatchObject({ seen: 30, inserted: 30 });
    });

    it('counts records it cannot store as failed, reports why, and keeps the last of a repeated id', async () => {
      const t = table();
      const invalid: Array<{ reason: string }> = [];
      const page: SyncPage<Person> = {
        records: [
          person(1),
          { ...person(2), id: undefined as unknown as number },
          { ...person(3), big: 1n } as unknown as Person,
          person(4),
          person(4, 1),
        ],
      };
      const source = (async function* () {
        yield page;
      })();
      const run = await t.run(source, {
        mode: 'incremental',
        onInvalidRecord: (_record, reason) => invalid.push({ reason }),
      });
      expect(run.counts).toEqual({ seen: 4, inserted: 2, changed: 0, unchanged: 0, deleted: 0, failed: 2 });
      expect(invalid.map((i) => i.reason)).toEqual([
        'the record has no string or finite number id',
        expect.stringContaining('not JSON'),
      ]);
      expect((await t.get(4))?.data).toEqual(person(4, 1));
    });

    it('never deletes the stored row of a record that now fails to store', async () => {
      const t = table();
      const records = Array.from({ length: 10 }, (_, i) => person(i + 1));
      await t.run(provider(() => records, 10).source, { mode: 'full' });
      // record 3 now carries a value JSON cannot hold
      const broken = records.map((r) => (r.id === 3 ? ({ ...r, big: 1n } as unknown as Person) : r));
      const run = await t.run(provider(() => broken, 10).source, { mode: 'full' });
      expect(run.counts).toMatchObject({ seen: 10, failed: 1, unchanged: 9, deleted: 0 });
      expect((await t.get(3))?.deletedAt).toBeNull();
    });

    it('stores, finds and reports ids with array, JSON and COPY syntax and lone surrogates', async () => {
      // characters that text arrays, JSON and COPY each escape, and lone surrogates, which UTF-8 cannot
      // carry: the server stores U+FFFD, and the id the run reports and compares is that stored one
      const odd = ['a,b', '{c}', 'd"e', 'f\\g', 'h\tTAB', 'NULL', ' i ', 'j\nk', 'l\ud800m', '\udc00n'];
      // (the ids come from idOf; the payloads stay plain, since jsonb refuses a lone surrogate in a value)
      const t = table({ idOf: (r) => (r.id === 100 ? 'seed' : (odd[r.id - 1] as string)) });
      const records = (rev: number) => odd.map((_, i) => person(i + 1, rev));
      await t.upsert([person(100)]); // a stored row: lookups are on from the first batch
      const first = await t.run(provider(() => records(0), 4).source, { mode: 'full', detectDeletes: false });
      expect(first.counts).toMatchObject({ seen: 10, inserted: 10, unchanged: 0, failed: 0 });
      const again = await t.run(provider(() => records(0), 4).source, { mode: 'full' });
      expect(again.counts).toMatchObject({ seen: 10, inserted: 0, changed: 0, unchanged: 10, failed: 0, deleted: 1 });
      const changed = await t.run(provider(() => records(1), 4).source, { mode: 'full' });
      expect(changed.counts).toMatchObject({ seen: 10, inserted: 0, changed: 10, unchanged: 0, failed: 0, deleted: 0 });
      for (const [i, key] of odd.entries()) {
        const stored = key.replace(/[\ud800-\udfff]/g, '\ufffd');
        expect((await t.get(stored))?.data).toMatchObject({ id: i + 1 });
      }
    });

    it('takes two ids that differ only in lone surrogates as one id, the later record winning', async () => {
      const t = table({ idOf: (r) => (r.id === 1 ? 'twin\ud800' : 'twin\udc00') });
      expect(await t.upsert([person(1), person(2)])).toMatchObject({ seen: 1, inserted: 1, failed: 0 });
      expect(await t.count()).toBe(1);
      expect((await t.get('twin\ufffd'))?.data).toMatchObject({ id: 2 });
    });

    it('upserts records outside a run and soft-deletes by id', async () => {
      const t = table();
      expect(await t.upsert([person(1), person(2)])).toMatchObject({ seen: 2, inserted: 2 });
      expect(await t.upsert([person(1), person(2, 1)])).toMatchObject({ inserted: 0, changed: 1, unchanged: 1 });
      const before = await versions(t);
      expect(await t.upsert([person(2, 1), person(1)])).toEqual({
        seen: 2,
        inserted: 0,
        changed: 0,
        unchanged: 2,
        deleted: 0,
        failed: 0,
      });
      expect(await versions(t)).toEqual(before);
      const seq = (await t.get(2))?.changeSeq ?? 0;
      expect(await t.markDeleted([2, '404'])).toBe(1);
      expect(await t.markDeleted([2])).toBe(0);
      const gone = await t.get(2);
      expect(gone?.deletedAt).toBeInstanceOf(Date);
      expect(gone?.changeSeq).toBeGreaterThan(seq);
      expect(await t.count()).toBe(1);
    });

    it('rejects bad sources, pages and options with typed errors', async () => {
      const t = table();
      const notPages = (async function* () {
        yield { rows: [] } as unknown as SyncPage<Person>;
      })();
      expect((await rejection(t.run(notPages, { mode: 'full' }))).code).toBe('invalid_page');
      const badNext = (async function* () {
        yield { records: [], next: 5 } as unknown as SyncPage<Person>;
      })();
      expect((await rejection(t.run(badNext, { mode: 'full' }))).code).toBe('invalid_page');
      expect((await rejection(t.run({} as never, { mode: 'full' }))).code).toBe('invalid_options');
      expect((await rejection(t.run(provider(() => [], 1).source, { mode: 'sideways' } as never))).code).toBe(
        'invalid_options',
      );
      expect((await rejection(t.run(provider(() => [], 1).source, { mode: 'full', maxDeleteRatio: 2 }))).code).toBe(
        'invalid_options',
      );
      expect((await rejection(t.markDeleted([''] as never))).code).toBe('invalid_options');
      expect(() => syncTable(db, { source: '', entity: 'x' })).toThrow(/source/);
      // every bad field is named in one message, with what it takes and what it got
      expect(() =>
        syncTable(db, {
          source: 'a',
          entity: 'b',
          batchSize: 0,
          copyMinRows: true,
          volatileFields: ['ok', ''],
        } as never),
      ).toThrow(
        'invalid options: volatileFields.1: must not be empty; batchSize: must be an integer from 1 to 10000, got 0; ' +
          'copyMinRows: must be an integer >= 1, or must be one of false, got true',
      );
      expect(
        (await rejection(t.run(provider(() => [], 1).source, { mode: 'full', signal: {} } as never))).message,
      ).toContain('invalid run options: signal: must be an AbortSignal, got an object');
      expect(() => syncTable(db, { source: 'a', entity: 'b', schema: 'bad-name' })).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
      expect(() => syncTable(null as never, { source: 'a', entity: 'b' })).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    });

    it('reports store_failed when the tables are missing', async () => {
      const t = syncTable(db, { source: 'a', entity: 'b', schema: uniqueSchema('nosync') });
      expect((await rejection(t.upsert([person(1)]))).code).toBe('store_failed');
      expect((await rejection(t.run(provider(() => [], 1).source, { mode: 'full' }))).code).toBe('store_failed');
    });
  });

  describe('delete detection over offset pages', () => {
    /**
     * A provider paging by offset over a list it can change between two
     * fetches; records `fetched` offsets and the ids asked by `fetchByIds`.
     */
    function offsetProvider(initial: readonly Person[], options: { recheck?: boolean; failRecheck?: number } = {}) {
      const data = [...initial];
      const fetched: number[] = [];
      const asked: string[][] = [];
      let failures = options.failRecheck ?? 0;
      let onServed: ((offset: number) => void) | undefined;
      const source = offsetPages<Person>({
        limit: 10,
        async fetch({ offset, limit }) {
          fetched.push(offset);
          const page = data.slice(offset, offset + limit);
          onServed?.(offset);
          return { records: page, more: offset + limit < data.length };
        },
        ...(options.recheck
          ? {
              async fetchByIds(ids: readonly string[]) {
                asked.push([...ids]);
                if (failures > 0) {
                  failures--;
                  throw new Error('provider 503 on GET /persons/{id}');
                }
                return data.filter((r) => ids.includes(String(r.id)));
              },
            }
          : {}),
      });
      return {
        source,
        data,
        fetched,
        asked,
        /** Deletes the record with `id` at the provider right after the page at `offset` is served. */
        deleteAfter(offset: number, id: number) {
          onServed = (served) => {
            if (served !== offset) return;
            data.splice(
              data.findIndex((r) => r.id === id),
              1,
            );
            onServed = undefined;
          };
        },
      };
    }

    it('refuses a full run over offset pages with no fetchByIds before fetching anything, with unsafe_deletes', async () => {
      const t = table();
      const provider = offsetProvider(Array.from({ length: 30 }, (_, i) => person(i + 1)));
      const error = await rejection(t.run(provider.source, { mode: 'full' }));
      expect(error.code).toBe('unsafe_deletes');
      expect(error.message).toMatch(/^\[@ballast\/core\] \[syncTable\.run\] .*fetchByIds.*detectDeletes: false/);
      expect(provider.fetched).toEqual([]);
      expect(await t.runs()).toEqual([]);
      // without delete detection the run stores what it reads and deletes nothing
      const stored = await t.run(provider.source, { mode: 'full', detectDeletes: false });
      expect(stored.counts).toMatchObject({ seen: 30, inserted: 30, deleted: 0 });
      // incremental runs never delete: nothing to refuse
      expect((await t.run(provider.source, { mode: 'incremental' })).status).toBe('completed');
    });

    it('a record deleted mid-run shifts the offsets: the skipped live record is re-checked by id and kept, only the deleted one goes', async () => {
      const t = table();
      const provider = offsetProvider(
        Array.from({ length: 30 }, (_, i) => person(i + 1)),
        { recheck: true },
      );
      await t.run(provider.source, { mode: 'full' });
      const removed: string[] = [];
      const m = mapper<{ id: number }, { id: number }>({
        name: 'shifted',
        schema: z.object({ id: z.number() }).passthrough(),
        version: 1,
        map: (p) => ({ id: p.id }),
        write: async () => {},
        onDelete: async (refs) => {
          removed.push(...refs.map((r) => r.externalId));
        },
      });
      await m.run(t);

      // record 3 is deleted at the provider once page 1 (offsets 0-9) is served: record 11
      // moves to offset 9, already read, and page 2 (offset 10) starts at record 12
      provider.deleteAfter(0, 3);
      const run = await t.run(provider.source, { mode: 'full' });
      expect(provider.fetched.slice(-3)).toEqual([0, 10, 20]);
      // record 11 was never listed: the only delete candidate, re-checked by id, found alive and kept
      expect((await t.get(11))?.deletedAt).toBeNull();
      expect(await m.run(t)).toMatchObject({ deleted: 0 });
      expect(removed).toEqual([]);
      expect(provider.asked).toEqual([['11']]);
      expect(run.counts).toMatchObject({ seen: 30, unchanged: 30, deleted: 0 });

      // record 3 was listed before it went: the next full run misses it, re-checks it, and deletes it
      const next = await t.run(provider.source, { mode: 'full' });
      expect(provider.asked.at(-1)).toEqual(['3']);
      expect(next.counts).toMatchObject({ seen: 29, deleted: 1 });
      expect((await t.get(3))?.deletedAt).toBeInstanceOf(Date);
      expect(await t.count()).toBe(29);
      expect(await m.run(t)).toMatchObject({ deleted: 1 });
      expect(removed).toEqual(['3']);
    });

    it('a run the guard refuses re-checks nothing: no provider calls, nothing deleted', async () => {
      const t = table();
      const provider = offsetProvider(
        Array.from({ length: 30 }, (_, i) => person(i + 1)),
        { recheck: true },
      );
      await t.run(provider.source, { mode: 'full' });
      provider.data.splice(10);
      const error = await rejection(t.run(provider.source, { mode: 'full' }));
      expect(error).toMatchObject({ code: 'mass_delete', wouldDelete: 20, known: 30 });
      expect(provider.asked).toEqual([]);
      expect(await t.count()).toBe(30);
    });

    it('a failed re-check leaves the run resumable; the resumed run re-checks without fetching the pages again', async () => {
      const t = table();
      const provider = offsetProvider(
        Array.from({ length: 30 }, (_, i) => person(i + 1)),
        { recheck: true, failRecheck: 1 },
      );
      await t.run(provider.source, { mode: 'full' });
      provider.deleteAfter(0, 3);
      const fetchedBefore = provider.fetched.length;
      const error = await rejection(t.run(provider.source, { mode: 'full' }));
      expect(error.code).toBe('source_failed');
      expect(error.message).toContain('fetchByIds');
      const [interrupted] = await t.runs({ limit: 1 });
      expect(interrupted).toMatchObject({ status: 'interrupted', cursor: null, pages: 3 });
      expect((await t.get(11))?.deletedAt).toBeNull();
      const pagesFetched = provider.fetched.length;
      expect(pagesFetched - fetchedBefore).toBe(3);

      const resumed = await t.run(provider.source, { mode: 'full' });
      expect(resumed).toMatchObject({ id: interrupted?.id, resumed: true, status: 'completed' });
      expect(provider.fetched.length).toBe(pagesFetched);
      expect(provider.asked).toEqual([['11'], ['11']]);
      expect(resumed.counts).toMatchObject({ seen: 30, deleted: 0 });
      expect((await t.get(11))?.deletedAt).toBeNull();
    });
  });

  describe('incremental since', () => {
    interface Stamped extends Person {
      updated_at: string;
    }
    /** An `updated_since` source over records stamped by the provider's clock. */
    const updatedSince = (data: () => readonly Stamped[], starts: SourceStart[]): PageSource<Stamped> =>
      async function* (start) {
        starts.push(start);
        const since = start.since?.getTime() ?? Number.NEGATIVE_INFINITY;
        yield { records: data().filter((r) => Date.parse(r.updated_at) >= since) };
      };

    it('takes since from the largest cursorField value stored minus the lookback: a provider clock behind the database misses no update', async () => {
      const t = syncTable<Stamped>(db, {
        schema,
        source: 'fakedrive',
        entity: `stamped_${++n}`,
        volatileFields: ['fetched_at'],
        cursorField: 'updated_at',
        ...defaults,
      });
      // the provider's clock runs 10 minutes behind the database's
      const providerNow = Date.now() - 600_000;
      const stamp = (i: number, at: number, rev = 0): Stamped => ({
        ...person(i, rev),
        updated_at: new Date(at).toISOString(),
      });
      let data = Array.from({ length: 5 }, (_, i) => stamp(i + 1, providerNow - (i + 1) * 60_000));
      const starts: SourceStart[] = [];
      const first = await t.run(
        updatedSince(() => data, starts),
        { mode: 'full' },
      );
      expect(first.highWater).toEqual(new Date(providerNow - 60_000));

      // after the run, record 3 is updated at the provider: stamped by its clock, before the run started by the database's
      data = data.map((r) => (r.id === 3 ? stamp(3, providerNow + 1_000, 1) : r));
      const inc = await t.run(
        updatedSince(() => data, starts),
        { mode: 'incremental' },
      );
      expect(starts[1]?.since).toEqual(new Date(providerNow - 60_000 - 300_000));
      // the lookback reads the last 5 minutes of the provider's clock again: unchanged records are not rewritten
      expect(inc.counts).toMatchObject({ seen: 5, changed: 1, unchanged: 4 });
      expect((await t.get(3))?.data.name).toBe('Person 3 rev 1');
      expect(inc.highWater).toEqual(new Date(providerNow + 1_000));

      // a run that sees nothing keeps the mark: the next one asks for the same since
      const quiet = await t.run(
        updatedSince(() => [], starts),
        { mode: 'incremental' },
      );
      expect(quiet.highWater).toEqual(new Date(providerNow + 1_000));
      await t.run(
        updatedSince(() => [], starts),
        { mode: 'incremental' },
      );
      expect(starts[3]?.since).toEqual(new Date(providerNow + 1_000 - 300_000));
    });

    it('honours lookbackMs, and reads Unix seconds and offset-less timestamps through a cursorField function', async () => {
      const t = syncTable<Person & { modified: number | string }>(db, {
        schema,
        source: 'fakedrive',
        entity: `stamped_${++n}`,
        lookbackMs: 1_000,
        ...defaults,
        cursorField: (r) => r.modified,
      });
      await t.upsert([]); // registers the table
      const run = await t.run(
        (async function* () {
          yield {
            records: [
              { ...person(1), modified: 1_700_000_000 },
              { ...person(2), modified: '2023-11-14 22:14:00' },
              { ...person(3), modified: 'not a date' },
            ],
          };
        })(),
        { mode: 'full' },
      );
      expect(run.highWater).toEqual(new Date('2023-11-14T22:14:00Z'));
      const starts: SourceStart[] = [];
      await t.run(
        async function* (start) {
          starts.push(start);
          yield { records: [] };
        },
        { mode: 'incremental' },
      );
      expect(starts[0]?.since).toEqual(new Date(Date.parse('2023-11-14T22:14:00Z') - 1_000));
      expect(() => syncTable(db, { source: 'a', entity: 'b', lookbackMs: -1 })).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    });
  });

  describe('mapper', () => {
    const contacts = names.table('contacts');
    const v1Schema = z.object({ id: z.number(), name: z.string(), emails: z.array(z.object({ value: z.string() })) });
    type V1 = z.infer<typeof v1Schema>;
    interface Contact {
      id: string;
      name: string;
      email: string | null;
    }
    const writeContacts = async (rows: Contact[], tx: { query: SqlClient['query'] }) => {
      await tx.query(
        `INSERT INTO ${contacts} (id, name, email) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email`,
        [rows.map((r) => r.id), rows.map((r) => r.name), rows.map((r) => r.email)],
      );
    };
    const deleteContacts = async (refs: Array<{ externalId: string }>, tx: { query: SqlClient['query'] }) => {
      await tx.query(`DELETE FROM ${contacts} WHERE id = ANY($1::text[])`, [refs.map((r) => r.externalId)]);
    };
    const v1 = (name: string) =>
      mapper<V1, Contact>({
        name,
        schema: v1Schema,
        version: 1,
        map: (p) => ({ id: String(p.id), name: p.name, email: p.emails[0]?.value ?? null }),
        write: writeContacts,
        onDelete: deleteContacts,
        batchSize: 8,
      });
    const appRows = async (prefix: string) =>
      (
        await db.query<Contact>(`SELECT id, name, email FROM ${contacts} WHERE id LIKE $1 ORDER BY id::int`, [
          `${prefix}%`,
        ])
      ).rows;

    beforeAll(async () => {
      await db.exec(`CREATE TABLE ${contacts} (id text PRIMARY KEY, name text NOT NULL, email text)`);
    });

    it('projects raw rows in batches, then only what changed', async () => {
      const t = table();
      await t.upsert(Array.from({ length: 20 }, (_, i) => person(100 + i)));
      const m = v1('project');
      const first = await m.run(t);
      expect(first).toMatchObject({ reprojected: true, processed: 20, written: 20, quarantined: 0, batches: 3 });
      expect(await appRows('10')).toHaveLength(10);
      expect((await appRows('105'))[0]).toEqual({ id: '105', name: 'Person 105', email: 'p105@example.com' });
      expect(await m.run(t)).toMatchObject({ reprojected: false, processed: 0, batches: 0 });
      await t.upsert([person(101, 3)]);
      expect(await m.run(t)).toMatchObject({ processed: 1, written: 1 });
      expect((await appRows('101'))[0]?.name).toBe('Person 101 rev 3');
    });

    it('quarantines rows after a provider renames a field, keeps the last good data, and re-projects with v2', async () => {
      const t = table();
      const ids = Array.from({ length: 10 }, (_, i) => 200 + i);
      await t.upsert(ids.map((i) => person(i)));
      const m1 = v1('rename');
      await m1.run(t);
      // the provider renames `emails` to `email_addresses` on some records
      const renamed = ids.slice(0, 4).map((i) => {
        const { emails, ...rest } = person(i, 1);
        return { ...rest, email_addresses: emails.map((e) => ({ ...e, value: `new${i}@example.com` })) };
      });
      await t.upsert(renamed as unknown as Person[]);
      const r1 = await m1.run(t);
      expect(r1).toMatchObject({ processed: 4, written: 0, quarantined: 4 });
      expect(await m1.quarantineCount(t)).toBe(4);
      const [entry] = await m1.quarantined(t, { limit: 1 });
      expect(entry).toMatchObject({ externalId: '200', mapperVersion: 1, stage: 'validate' });
      expect(entry?.issues?.[0]?.path).toEqual(['emails']);
      expect(entry?.error).toContain('emails');
      expect(entry?.data).toMatchObject({ email_addresses: [{ value: 'new200@example.com' }] });
      // the app keeps the last good data for the affected rows
      expect((await appRows('200'))[0]).toEqual({ id: '200', name: 'Person 200', email: 'p200@example.com' });

      const v2Schema = z.union([
        v1Schema,
        z
          .object({ id: z.number(), name: z.string(), email_addresses: z.array(z.object({ value: z.string() })) })
          .transform(({ email_addresses, ...rest }) => ({ ...rest, emails: email_addresses })),
      ]);
      const m2 = mapper({
        name: 'rename',
        schema: v2Schema,
        version: 2,
        map: (p) => ({ id: String(p.id), name: p.name, email: p.emails[0]?.value ?? null }),
        write: writeContacts,
      });
      const r2 = await m2.run(t);
      expect(r2).toMatchObject({ reprojected: true, processed: 10, written: 10, quarantined: 0, released: 4 });
      expect(await m2.quarantineCount(t)).toBe(0);
      expect((await appRows('200'))[0]).toEqual({ id: '200', name: 'Person 200 rev 1', email: 'new200@example.com' });
      // the old version may no longer run against this table
      expect((await rejection(m1.run(t))).code).toBe('run_conflict');
    });

    it('quarantines a row whose map throws or returns nothing, without stopping the batch', async () => {
      const t = table();
      await t.upsert([person(300), person(301), person(302), person(303), person(304)]);
      const m = mapper<V1, Contact>({
        name: 'picky',
        schema: v1Schema,
        version: 1,
        map: (p) => {
          if (p.id === 301) throw new Error('no mapping for 301');
          if (p.id === 303) return undefined as unknown as Contact;
          if (p.id === 304) return [];
          return { id: String(p.id), name: p.name, email: null };
        },
        write: writeContacts,
      });
      expect(await m.run(t)).toMatchObject({ processed: 5, written: 2, quarantined: 2 });
      expect(await m.quarantined(t)).toEqual([
        expect.objectContaining({ externalId: '301', stage: 'map', error: 'no mapping for 301', issues: null }),
        expect.objectContaining({
          externalId: '303',
          stage: 'map',
          error: expect.stringContaining('returned undefined'),
        }),
      ]);
      expect((await appRows('30')).map((r) => r.id)).toEqual(['300', '302']);
    });

    it('hands soft-deleted raw rows to onDelete, and maps one raw row to several app rows', async () => {
      const t = table();
      await t.upsert([person(400), person(401)]);
      const m = mapper<V1, Contact>({
        name: 'fanout',
        schema: v1Schema,
        version: 1,
        map: (p) => [
          { id: `${p.id}1`, name: p.name, email: null },
          { id: `${p.id}2`, name: p.name, email: null },
        ],
        write: writeContacts,
        onDelete: (refs, tx) =>
          deleteContacts(
            refs.flatMap((r) => [{ externalId: `${r.externalId}1` }, { externalId: `${r.externalId}2` }]),
            tx,
          ),
      });
      expect(await m.run(t)).toMatchObject({ processed: 2, written: 4 });
      expect(await appRows('40')).toHaveLength(4);
      await t.markDeleted([400]);
      expect(await m.run(t)).toMatchObject({ processed: 1, deleted: 1, written: 0 });
      expect((await appRows('40')).map((r) => r.id)).toEqual(['4011', '4012']);
    });

    it('rolls a batch back and keeps its position when write throws', async () => {
      const t = table();
      await t.upsert([person(500), person(501)]);
      let fail = true;
      const m = mapper<V1, Contact>({
        name: 'fragile',
        schema: v1Schema,
        version: 1,
        map: (p) => ({ id: String(p.id), name: p.name, email: null }),
        write: async (rows, tx) => {
          await writeContacts(rows, tx);
          if (fail) throw new Error('disk full');
        },
      });
      const error = await rejection(m.run(t));
      expect(error.code).toBe('write_failed');
      expect(error.message).toContain('disk full');
      expect(await appRows('50')).toEqual([]);
      fail = false;
      expect(await m.run(t)).toMatchObject({ processed: 2, written: 2 });
      expect(await appRows('50')).toHaveLength(2);
    });

    it('projects each change once when two processes run the same mapper at once', async () => {
      const t = table();
      await t.upsert(Array.from({ length: 30 }, (_, i) => person(600 + i)));
      const written: string[] = [];
      const make = () =>
        mapper<V1, Contact>({
          name: 'twins',
          schema: v1Schema,
          version: 1,
          batchSize: 4,
          map: (p) => ({ id: String(p.id), name: p.name, email: null }),
          write: async (rows, tx) => {
            written.push(...rows.map((r) => r.id));
            await writeContacts(rows, tx);
          },
        });
      const [a, b] = await Promise.all([make().run(t), make().run(t)]);
      expect(a.processed + b.processed).toBe(30);
      expect(written.toSorted()).toEqual(Array.from({ length: 30 }, (_, i) => String(600 + i)).toSorted());
      expect(await appRows('6')).toHaveLength(30);
    });

    it('releases a row another process quarantined after this run started (the quarantine is read from the database)', async () => {
      const t = table();
      await t.upsert([person(700), person(701), person(702)]);
      const other = v1('shared');
      await other.run(t);
      const { emails, ...rest } = person(701, 1);
      await t.upsert([{ ...rest, email_addresses: emails } as unknown as Person]);
      // this process's view of the same table: while it opens its first batch, another
      // process quarantines 701, then the provider fixes 701
      let fired = false;
      const hooked: SqlClient = {
        ...db,
        async transaction(fn) {
          if (!fired) {
            fired = true;
            expect(await other.run(t)).toMatchObject({ quarantined: 1 });
            await t.upsert([person(701, 2)]);
          }
          return db.transaction(fn);
        },
      };
      const view = syncTable<Person>(hooked, { schema, source: t.source, entity: t.entity, ...defaults });
      const m = v1('shared');
      const result = await m.run(view);
      expect(fired).toBe(true);
      expect(result).toMatchObject({ processed: 1, written: 1, quarantined: 0, released: 1 });
      expect(await m.quarantineCount(t)).toBe(0);
      expect((await appRows('701'))[0]?.name).toBe('Person 701 rev 2');
    });

    it('rejects bad mapper options with typed errors', () => {
      const base = { schema: v1Schema, version: 1, map: () => ({}), write: async () => {} };
      for (const bad of [
        { ...base, version: 0 },
        { ...base, version: 1.5 },
        { ...base, schema: {} },
        { ...base, map: 'nope' },
        { ...base, write: undefined },
        { ...base, batchSize: 0 },
        { ...base, name: '' },
      ]) {
        expect(() => mapper(bad as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
      }
      expect(() => mapper(null as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
      expect(() => mapper({ ...base, version: 0, schema: {} } as never)).toThrow(
        'invalid options: schema: must be a zod schema (an object with safeParse), got an object; ' +
          'version: must be an integer >= 1, got 0',
      );
    });
  });
}

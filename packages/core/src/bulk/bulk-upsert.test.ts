import { describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../inbox/testdata/databases';
import { migrate } from '../stores/migrate';
import { type BulkProgress, bulkUpsert } from './bulk-upsert';
import { memoryBulkCheckpoints } from './checkpoint';
import { isBulkError } from './errors';
import { sqlBulkCheckpoints } from './sql-checkpoint';
import { HttpishError, memoryRemote, people } from './testdata/memory-target';

describe('bulkUpsert', () => {
  it('creates new keys and updates existing ones, looking records up through one index pass', async () => {
    const remote = memoryRemote();
    remote.records.set('900', { id: '900', key: 'ext-1', name: 'old' });
    remote.records.set('901', { id: '901', key: undefined, name: 'no key' });
    const result = await bulkUpsert({ job: 'j1', records: people(250), target: remote.target });
    expect(result).toMatchObject({
      status: 'completed',
      total: 250,
      done: 250,
      created: 249,
      updated: 1,
      failures: [],
    });
    expect(remote.records.get('900')?.name).toBe('Person 1');
    expect(remote.calls).toMatchObject({ create: 249, update: 1, find: 0, index: 1 });
    for (let i = 0; i < 250; i++) expect(remote.count(`ext-${i}`)).toBe(1);
    expect(result.requests).toBe(251);
  });

  it('looks each key up with lookup: find', async () => {
    const remote = memoryRemote();
    remote.records.set('900', { id: '900', key: 'ext-3', name: 'old' });
    const result = await bulkUpsert({ job: 'j', records: people(10), target: remote.target, lookup: 'find' });
    expect(result).toMatchObject({ created: 9, updated: 1 });
    expect(remote.calls).toMatchObject({ find: 10, index: 0 });
  });

  it('lists every record it could not write, typed, and writes all the others', async () => {
    const remote = memoryRemote();
    remote.records.set('7', { id: '7', key: 'ext-4', name: 'a' });
    remote.records.set('8', { id: '8', key: 'ext-4', name: 'b' });
    const records = [
      ...people(6),
      { key: 'ext-2', data: { name: 'again' } },
      { key: '', data: { name: 'no key' } },
      { key: 'ext-bad', data: { name: '' } },
      { key: 'ext-rejected', data: { name: 'reject me' } },
    ];
    const result = await bulkUpsert({ job: 'j', records, target: remote.target });
    expect(result.status).toBe('completed');
    expect(result.failures.map((f) => [f.index, f.key, f.code])).toEqual([
      [4, 'ext-4', 'ambiguous_key'],
      [6, 'ext-2', 'duplicate_key'],
      [7, '', 'invalid_record'],
      [8, 'ext-bad', 'invalid_record'],
      [9, 'ext-rejected', 'validation'],
    ]);
    expect(result.failures[4]).toMatchObject({ status: 400, action: 'create', message: 'name is not allowed' });
    expect(result.done).toBe(5);
    expect(remote.count('ext-rejected')).toBe(0);
    expect(remote.records.get('7')?.name).toBe('a');
    for (const i of [0, 1, 2, 3, 5]) expect(remote.count(`ext-${i}`)).toBe(1);
  });

  it('plans against the budget before the first request, runs what fits, pauses, and resumes after the reset', async () => {
    const resetsAt = new Date(Date.now() + 3_600_000);
    // index 10 + 20 creates of 5 = 110 fit in 115
    const remote = memoryRemote({ budget: { remaining: 115, resetsAt } });
    const checkpoints = memoryBulkCheckpoints();
    const plans: unknown[] = [];
    const first = await bulkUpsert({
      job: 'budget',
      records: people(50),
      target: remote.target,
      checkpoints,
      // one at a time, so that no request is in flight when the budget is checked (with more, the
      // job keeps the cost of the requests in flight aside and may stop a few records earlier)
      concurrency: 1,
      onPlan: (p) => plans.push({ ...p, calls: { ...remote.calls } }),
    });
    expect(plans).toEqual([
      expect.objectContaining({
        total: 50,
        pending: 50,
        requests: 51,
        cost: 260,
        budgetRemaining: 115,
        resetsAt,
        fitsToday: 21,
        finishesToday: false,
        calls: { create: 0, update: 0, find: 0, index: 0 },
      }),
    ]);
    expect(first).toMatchObject({ status: 'paused', created: 21, remaining: 29, resumeAfter: resetsAt });
    expect(await checkpoints.getJob('budget')).toMatchObject({
      status: 'paused',
      done: 21,
      resumeAfter: resetsAt.toISOString(),
    });

    remote.budget = { remaining: 10_000, resetsAt: new Date(resetsAt.getTime() + 86_400_000) };
    const second = await bulkUpsert({ job: 'budget', records: people(50), target: remote.target, checkpoints });
    expect(second).toMatchObject({ status: 'completed', skipped: 21, created: 29, done: 50 });
    for (let i = 0; i < 50; i++) expect(remote.count(`ext-${i}`)).toBe(1);
    expect(await checkpoints.getJob('budget')).toMatchObject({ status: 'completed', done: 50 });
  });

  it("refuses a plan that does not fit with whenBudgetShort: 'refuse', before sending anything", async () => {
    const remote = memoryRemote({ budget: { remaining: 50, resetsAt: new Date(Date.now() + 1000) } });
    const error = await bulkUpsert({
      job: 'j',
      records: people(20),
      target: remote.target,
      whenBudgetShort: 'refuse',
    }).catch((e: unknown) => e);
    expect(isBulkError(error) && error.code).toBe('budget_short');
    expect(remote.calls).toEqual({ create: 0, update: 0, find: 0, index: 0 });
  });

  it('waits for the reset with waitForReset and finishes', async () => {
    const remote = memoryRemote({ budget: { remaining: 35, resetsAt: new Date(Date.now() + 150) } });
    const phases: string[] = [];
    const target = {
      ...remote.target,
      budget: () => {
        if (remote.budget && Date.now() >= remote.budget.resetsAt.getTime())
          remote.budget = { remaining: 1000, resetsAt: new Date(Date.now() + 86_400_000) };
        return remote.budget;
      },
    };
    const result = await bulkUpsert({
      job: 'j',
      records: people(12),
      target,
      waitForReset: true,
      onProgress: (p) => phases.push(p.phase),
    });
    expect(result).toMatchObject({ status: 'completed', created: 12 });
    expect(phases).toContain('paused');
  });

  it('pauses when the provider says the budget is spent although the plan thought it fit', async () => {
    const remote = memoryRemote({ budget: { remaining: 10_000, resetsAt: new Date(Date.now() + 60_000) } });
    let writes = 0;
    remote.beforeWrite = () => {
      if (++writes > 5) throw new HttpishError(429, 'daily budget spent');
    };
    const checkpoints = memoryBulkCheckpoints();
    const first = await bulkUpsert({ job: 'j', records: people(20), target: remote.target, checkpoints });
    expect(first.status).toBe('paused');
    expect(first.done + first.remaining).toBe(20);
    expect(first.failures).toEqual([]);
    remote.beforeWrite = undefined;
    const second = await bulkUpsert({ job: 'j', records: people(20), target: remote.target, checkpoints });
    expect(second).toMatchObject({ status: 'completed', done: 20 });
    for (let i = 0; i < 20; i++) expect(remote.count(`ext-${i}`)).toBe(1);
  });

  it('stops on an error of the whole job (bad credentials) with target_failed, and resumes from the checkpoint', async () => {
    const remote = memoryRemote();
    let writes = 0;
    remote.beforeWrite = () => {
      if (++writes === 8) throw new HttpishError(401, 'invalid api token');
    };
    const checkpoints = memoryBulkCheckpoints();
    const error = await bulkUpsert({ job: 'j', records: people(30), target: remote.target, checkpoints }).catch(
      (e: unknown) => e,
    );
    expect(isBulkError(error) && error.code).toBe('target_failed');
    expect(isBulkError(error) && (error.cause as HttpishError).status).toBe(401);
    expect((await checkpoints.getJob('j'))?.status).toBe('failed');
    remote.beforeWrite = undefined;
    const result = await bulkUpsert({ job: 'j', records: people(30), target: remote.target, checkpoints });
    expect(result.status).toBe('completed');
    for (let i = 0; i < 30; i++) expect(remote.count(`ext-${i}`)).toBe(1);
  });

  it('finds the checkpoint of a key with a lone surrogate, which SQL stores as U+FFFD, and refuses two keys stored alike', async () => {
    const database = await pgliteDatabase();
    try {
      await migrate(database.db, { schema: database.schema, modules: ['bulk'] });
      const checkpoints = sqlBulkCheckpoints(database.db, { schema: database.schema });
      const remote = memoryRemote();
      const records = [
        { key: 'lone-\ud800', data: { name: 'A' } },
        { key: '\udc00-lone', data: { name: 'B' } },
        { key: 'twin-\ud800', data: { name: 'C' } },
        { key: 'twin-\udc00', data: { name: 'D' } }, // stored as 'twin-\ufffd' too: one checkpoint cannot hold both
        ...people(4),
      ];
      const first = await bulkUpsert({ job: 'lone', records, target: remote.target, checkpoints });
      expect(first).toMatchObject({
        status: 'completed',
        created: 7,
        failures: [{ key: 'twin-\udc00', code: 'duplicate_key' }],
      });
      const calls = { ...remote.calls };
      // every key that was written is done in the checkpoint: the second run sends nothing, looks nothing up
      const again = await bulkUpsert({ job: 'lone', records, target: remote.target, checkpoints });
      expect(again).toMatchObject({ status: 'completed', created: 0, updated: 0 });
      expect(remote.calls).toEqual(calls);
      for (const key of ['lone-\ud800', '\udc00-lone', 'twin-\ud800']) expect(remote.count(key)).toBe(1);
    } finally {
      await database.drop();
    }
  });

  it('reports progress: done only grows, the total is fixed, an estimate of the time left', async () => {
    const remote = memoryRemote({ latencyMs: 1 });
    const events: BulkProgress[] = [];
    await bulkUpsert({
      job: 'j',
      records: people(60),
      target: remote.target,
      progressEveryMs: 0,
      onProgress: (p) => events.push(p),
    });
    expect(events.map((e) => e.phase)).toEqual(expect.arrayContaining(['index', 'write', 'done']));
    expect(events.every((e) => e.total === 60)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i]?.done).toBeGreaterThanOrEqual(events[i - 1]?.done ?? 0);
    expect(events.at(-1)).toMatchObject({ phase: 'done', done: 60, created: 60, failed: 0, etaMs: 0 });
    expect(events.some((e) => e.phase === 'write' && typeof e.etaMs === 'number' && e.etaMs > 0)).toBe(true);
  });

  it('rejects bad options with typed errors', async () => {
    const remote = memoryRemote();
    const bad = [
      { job: '', records: [], target: remote.target },
      { job: 'j', records: 5, target: remote.target },
      { job: 'j', records: [], target: {} },
      { job: 'j', records: [], target: { ...remote.target, index: undefined, find: undefined } },
      { job: 'j', records: [], target: remote.target, concurrency: 0 },
      { job: 'j', records: [], target: remote.target, whenBudgetShort: 'hope' },
    ];
    for (const options of bad) {
      const error = await bulkUpsert(options as never).catch((e: unknown) => e);
      expect(isBulkError(error) && error.code).toBe('invalid_options');
    }
  });
});

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPostgres } from '../stores/postgres';
import { type SqlClient, sqlNames } from '../stores/sql';
import { isIdempotencyInProgressError } from './errors';
import { idempotent } from './idempotent';
import { sqlIdempotencyStore } from './sql-store';

/**
 * Many callers on several pools (as several processes would be) racing on
 * one Postgres: the claim statement alone decides who runs.
 */
describeWithPostgres('idempotent() concurrency', (url) => {
  const schema = uniqueSchema('idcc');
  const effects = sqlNames(schema).table('effects');
  const pools: SqlClient[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) pools.push(await createPostgres({ connectionString: url, max: 6 }));
    const [first] = pools;
    if (!first) throw new Error('no pool');
    await migrate(first, { schema, modules: ['idempotency'] });
    await first.exec(`CREATE TABLE ${effects} (key text NOT NULL, caller integer NOT NULL)`);
  });
  afterAll(async () => {
    await pools[0]?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await Promise.all(pools.map((p) => p.close()));
  });

  const pool = (i: number) => {
    const p = pools[i % pools.length];
    if (!p) throw new Error('no pool');
    return p;
  };
  const effectCount = async (key: string) =>
    Number(
      (await pool(0).query<{ n: string }>(`SELECT count(*)::text AS n FROM ${effects} WHERE key = $1`, [key])).rows[0]
        ?.n,
    );

  /** One idempotent wrapper per pool, all sharing the same table: a side effect written through the pool. */
  function wrappers(wait: boolean) {
    return pools.map((db) =>
      idempotent(
        async (input: { key: string; caller: number }) => {
          await db.query(`INSERT INTO ${effects} (key, caller) VALUES ($1, $2)`, [input.key, input.caller]);
          await new Promise((r) => setTimeout(r, 30));
          return { winner: input.caller };
        },
        {
          store: sqlIdempotencyStore(db, { schema }),
          key: (i) => i.key,
          wait: wait && { timeout: 20_000, initialDelay: 5, maxDelay: 50 },
          purgeInterval: false,
        },
      ),
    );
  }

  it('runs fn exactly once for 60 concurrent calls with one key across 3 pools, and all get its result', async () => {
    const fns = wrappers(true);
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, caller) => fns[caller % fns.length]?.({ key, caller })),
    );
    expect(await effectCount(key)).toBe(1);
    const winner = results[0]?.winner;
    expect(results.every((r) => r?.winner === winner)).toBe(true);
  });

  it('without wait, exactly one concurrent call runs; the others are in progress or replays', async () => {
    const fns = wrappers(false);
    const key = randomUUID();
    const settled = await Promise.allSettled(
      Array.from({ length: 40 }, (_, caller) => fns[caller % fns.length]?.({ key, caller })),
    );
    expect(await effectCount(key)).toBe(1);
    for (const s of settled) {
      if (s.status === 'rejected') expect(isIdempotencyInProgressError(s.reason)).toBe(true);
    }
    expect(settled.some((s) => s.status === 'fulfilled')).toBe(true);
  });

  it('runs each of 25 keys exactly once under 250 interleaved concurrent calls', async () => {
    const fns = wrappers(true);
    const keys = Array.from({ length: 25 }, () => randomUUID());
    await Promise.all(
      Array.from({ length: 250 }, (_, caller) => fns[caller % fns.length]?.({ key: keys[caller % 25] ?? '', caller })),
    );
    const counts = await pool(0).query<{ key: string; n: number }>(
      `SELECT key, count(*)::int AS n FROM ${effects} WHERE key = ANY($1) GROUP BY key`,
      [keys],
    );
    expect(counts.rows).toHaveLength(25);
    expect(counts.rows.every((r) => r.n === 1)).toBe(true);
  });

  it('after a holder died, exactly one of many racing callers takes over; the dead holder cannot complete', async () => {
    const clock = { t: Date.UTC(2026, 0, 1) };
    const key = randomUUID();
    const lease = 15_000;
    // The holder claims on pool 0 and dies: it never completes or releases.
    const deadToken = randomUUID();
    const claimed = await sqlIdempotencyStore(pool(0), { schema }).claim({
      key,
      fingerprint: null,
      token: deadToken,
      now: clock.t,
      leaseUntil: clock.t + lease,
      expiresAt: clock.t + lease + 60_000,
    });
    expect(claimed.claimed).toBe(true);

    const takeovers: number[] = [];
    const fns = pools.map((db) =>
      idempotent(
        async (caller: number, ctx) => {
          if (ctx.takeover) takeovers.push(caller);
          await db.query(`INSERT INTO ${effects} (key, caller) VALUES ($1, $2)`, [key, caller]);
          return caller;
        },
        { store: sqlIdempotencyStore(db, { schema }), key: () => key, lease, now: () => clock.t, purgeInterval: false },
      ),
    );

    const early = await Promise.allSettled(fns.map((f, i) => f(i)));
    expect(early.every((s) => s.status === 'rejected' && isIdempotencyInProgressError(s.reason))).toBe(true);

    clock.t += lease;
    const settled = await Promise.allSettled(Array.from({ length: 30 }, (_, caller) => fns[caller % 3]?.(caller)));
    expect(takeovers).toHaveLength(1);
    expect(await effectCount(key)).toBe(1);
    const fulfilled = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(fulfilled.every((v) => v === takeovers[0])).toBe(true);

    const stale = sqlIdempotencyStore(pool(1), { schema });
    const late = clock.t + 1;
    expect(
      await stale.complete({
        key,
        token: deadToken,
        state: 'succeeded',
        value: '{"v":"stale"}',
        now: late,
        expiresAt: late,
      }),
    ).toBe(false);
    expect(await stale.release({ key, token: deadToken })).toBe(false);
    expect(await stale.get(key)).toMatchObject({
      state: 'succeeded',
      value: JSON.stringify({ v: takeovers[0] }),
      claims: 2,
    });
  });

  it('a holder process killed mid-run is taken over after its lease: its uncommitted writes vanish, the effect happens once', async () => {
    const key = randomUUID();
    const lease = 60_000;
    const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));
    // The holder: transactional mode, writes its side effect, reports, then hangs until killed.
    const holder = `
      import { createPostgres } from ${JSON.stringify(src('../stores/postgres.ts'))};
      import { sqlIdempotencyStore } from ${JSON.stringify(src('./sql-store.ts'))};
      import { idempotent } from ${JSON.stringify(src('./idempotent.ts'))};
      const db = await createPostgres({ connectionString: process.env.HOLDER_DB_URL, max: 2 });
      const run = idempotent(async (_, { tx }) => {
        await tx.query('INSERT INTO ${effects} (key, caller) VALUES ($1, -1)', [${JSON.stringify(key)}]);
        process.stdout.write('started\\n');
        await new Promise(() => {});
      }, { store: sqlIdempotencyStore(db, { schema: ${JSON.stringify(schema)} }), key: () => ${JSON.stringify(key)}, lease: ${lease}, transactional: true, purgeInterval: false });
      await run(undefined);
    `;
    const child = spawn(
      process.execPath,
      ['--conditions=@ballast/source', '--import', 'tsx', '--input-type=module', '-e', holder],
      { env: { ...process.env, HOLDER_DB_URL: url }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('started')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await once(child, 'exit');

    const runs: boolean[] = [];
    const wrap = (db: SqlClient, skew: number) =>
      idempotent(
        async (caller: number, ctx) => {
          runs.push(ctx.takeover);
          await ctx.tx.query(`INSERT INTO ${effects} (key, caller) VALUES ($1, $2)`, [key, caller]);
          return caller;
        },
        {
          store: sqlIdempotencyStore(db, { schema }),
          key: () => key,
          lease,
          transactional: true,
          // skip ahead instead of sleeping through the lease
          now: () => Date.now() + skew,
          purgeInterval: false,
        },
      );
    await expect(wrap(pool(0), 0)(0)).rejects.toMatchObject({ code: 'in_progress' });
    const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => wrap(pool(i), lease)(i + 1)));
    expect(runs).toEqual([true]);
    expect(settled.filter((s) => s.status === 'fulfilled')).not.toHaveLength(0);
    const rows = await pool(0).query<{ caller: number }>(`SELECT caller FROM ${effects} WHERE key = $1`, [key]);
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]?.caller).toBeGreaterThan(0);
  }, 30_000);
});

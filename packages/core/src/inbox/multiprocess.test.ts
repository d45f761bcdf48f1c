import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { createPostgres } from '../stores/postgres';
import type { SqlClient } from '../stores/sql';
import { signWebhook } from '../webhooks/sign';
import { sqlInbox } from './sql';

const SECRET = 'whsec_multiprocess';
const NODE_SCRIPT = fileURLToPath(new URL('./testdata/inbox-node.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

interface Node {
  child: ChildProcess;
  base: string;
  stderr: string[];
}

/** Spawns one inbox node (an OS process) and waits until it listens. */
async function startNode(env: Record<string, string>): Promise<Node> {
  const child = spawn(process.execPath, ['--conditions=@ballast/source', '--import', 'tsx', NODE_SCRIPT], {
    cwd: REPO_ROOT,
    env: { ...process.env, WEBHOOK_SECRET: SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start: ${stderr.join('')}`)), 30_000);
    lines.on('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}: ${stderr.join('')}`)));
  });
  return { child, base: `http://127.0.0.1:${port}/webhooks/shop`, stderr };
}

async function stopNode(node: Node, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  const exited = new Promise((resolve) => node.child.once('exit', resolve));
  node.child.kill(signal);
  await exited;
}

async function deliver(base: string, event: object): Promise<{ status: number; duplicate?: boolean }> {
  const body = JSON.stringify(event);
  const signed = await signWebhook({ scheme: 'stripe', secret: SECRET, body });
  const res = await fetch(base, { method: 'POST', headers: signed.headers, body });
  const json = (await res.json()) as { duplicate?: boolean };
  return json.duplicate === undefined ? { status: res.status } : { status: res.status, duplicate: json.duplicate };
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await (tasks[i] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describeWithPostgres('inbox across OS processes', (url) => {
  let db: SqlClient;
  const schemas: string[] = [];
  const nodes: Node[] = [];

  async function freshSchema(): Promise<string> {
    const schema = uniqueSchema('inboxmp');
    schemas.push(schema);
    await migrate(db, { schema });
    await db.exec(`
      CREATE TABLE ${schema}.effects (event_id text PRIMARY KEY, pid int NOT NULL);
      CREATE TABLE ${schema}.attempts (event_id text NOT NULL, pid int NOT NULL);
    `);
    return schema;
  }
  const count = async (sql: string) => Number((await db.query<{ n: number }>(sql)).rows[0]?.n);

  beforeAll(async () => {
    db = await createPostgres({ connectionString: url, max: 4 });
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    for (const schema of schemas) await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.close();
  });

  it('2,000 events delivered 3 times each to 2 processes with 8 workers: every side effect exactly once', async () => {
    const schema = await freshSchema();
    const bossSchema = `${schema}_boss`;
    schemas.push(bossSchema);
    const env = { DATABASE_URL: url, INBOX_SCHEMA: schema, BOSS_SCHEMA: bossSchema, QUEUE: 'pgboss', CONCURRENCY: '8' };
    const pair = await Promise.all([startNode(env), startNode(env)]);
    nodes.push(...pair);

    const events = Array.from({ length: 2000 }, (_, i) => ({ id: `evt_${i}`, type: 'order.created', n: i }));
    const deliveries = events.flatMap((event) => [event, event, event]);
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j] as (typeof events)[0], deliveries[i] as (typeof events)[0]];
    }
    const results = await pool(
      deliveries.map((event, i) => () => deliver((pair[i % 2] as Node).base, event)),
      64,
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.filter((r) => r.duplicate === false)).toHaveLength(2000); // one "stored" answer per event

    const inbox = sqlInbox(db, { schema });
    await until(async () => (await inbox.counts()).processed === 2000, 90_000, 'all events processed');
    const counts = await inbox.counts();
    expect(counts).toEqual({ received: 0, processing: 0, processed: 2000, failed: 0, dead: 0, total: 2000 });
    expect(await count(`SELECT count(*)::int AS n FROM ${schema}.effects`)).toBe(2000);
    expect(await count(`SELECT count(*)::int AS n FROM ${schema}.attempts`)).toBe(2000); // each handler ran once
    expect(await count(`SELECT count(DISTINCT pid)::int AS n FROM ${schema}.effects`)).toBe(2); // both did work
    await Promise.all(pair.map((n) => stopNode(n)));
  }, 180_000);

  it('a worker killed mid-handler: another process takes the event over after the lease, exactly once', async () => {
    const schema = await freshSchema();
    const env = { DATABASE_URL: url, INBOX_SCHEMA: schema, LEASE_MS: '1500', CONCURRENCY: '2' };
    const victim = await startNode(env);
    nodes.push(victim);
    expect((await deliver(victim.base, { id: 'evt_hang', type: 'order.created', hangFirst: true })).status).toBe(200);
    await until(
      async () => (await count(`SELECT count(*)::int AS n FROM ${schema}.attempts`)) === 1,
      20_000,
      'the first attempt to start',
    );
    await stopNode(victim, 'SIGKILL');
    const inbox = sqlInbox(db, { schema });
    expect((await inbox.get('shop', 'evt_hang'))?.status).toBe('processing');

    const rescuer = await startNode(env);
    nodes.push(rescuer);
    await until(async () => (await inbox.get('shop', 'evt_hang'))?.status === 'processed', 30_000, 'the takeover');
    expect(await count(`SELECT count(*)::int AS n FROM ${schema}.effects`)).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM ${schema}.attempts`)).toBe(2); // the killed run and the rescue
    const pids = await db.query<{ pid: number }>(`SELECT pid FROM ${schema}.effects`);
    expect(pids.rows[0]?.pid).toBe(rescuer.child.pid);
    await stopNode(rescuer);
  }, 90_000);
});

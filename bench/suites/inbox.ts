import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createWebhookHandler, type GroupCommitOptions, toNodeHandler } from '@ballast/core/inbox';
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate, sqlInbox } from '@ballast/core/stores/sql';
import { createWebhookVerifier } from '@ballast/core/webhooks';
import autocannon from 'autocannon';
import { bundled } from '../bundle';
import { type CurvePoint, curveMode, writeCurve } from '../curve';
import { type BenchRow, report, speedup } from '../harness';

/**
 * Webhook ingest over loopback HTTP: verify the Stripe signature, store the
 * event durably, answer 200. Each server runs in its own process (this file,
 * with INBOX_BENCH_ROLE=server) so autocannon does not share its event loop;
 * 64 connections, every request a distinct signed event. Processing is off
 * (no handlers): these rows measure ingest only.
 *
 * Rows: `bare node:http 200` (the floor), `verify + 200, nothing stored` (the
 * ceiling of any durable endpoint on this machine), `naive insert per request` (verify,
 * then one INSERT per request on a pg pool of 16), `ballast inbox (postgres)`
 * (group commit on a pool of 16), `ballast inbox (pglite)` (group commit on an
 * on-disk PGlite). Postgres rows need DATABASE_URL.
 */

const SECRET = 'whsec_bench_inbox';
const CONNECTIONS = 64;
const WARMUP_S = 2;
const DURATION_S = Number(process.env.INBOX_BENCH_SECONDS ?? 8);

type Kind = 'bare' | 'verify' | 'naive' | 'ballast-postgres' | 'ballast-pglite';

// ---------------------------------------------------------------- server role

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function serve(kind: Kind): Promise<void> {
  const url = process.env.DATABASE_URL ?? '';
  const schema = process.env.INBOX_BENCH_SCHEMA ?? 'ballast_bench';
  let listener: Parameters<typeof createServer>[1];
  // group commit's batches (ballast servers): how many events a commit carried, and how many were in flight
  const batches = { count: 0, events: 0, inFlight: 0 };
  const cleanup: (() => Promise<void>)[] = [];

  if (kind === 'bare') {
    listener = (req, res) => {
      readBody(req).then(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"received":true}');
      });
    };
  } else if (kind === 'verify') {
    const verify = createWebhookVerifier({ scheme: 'stripe', secret: SECRET });
    listener = (req, res) => {
      void (async () => {
        try {
          await verify({ body: await readBody(req), headers: req.headers });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"received":true}');
        } catch {
          res.writeHead(400);
          res.end();
        }
      })();
    };
  } else if (kind === 'naive') {
    const { pool } = await createPostgres({ connectionString: url, max: 16 });
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await pool.query(`DROP TABLE IF EXISTS ${schema}.naive_events`);
    await pool.query(
      `CREATE TABLE ${schema}.naive_events (source text NOT NULL, event_id text NOT NULL, type text NOT NULL,
         payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, event_id))`,
    );
    const verify = createWebhookVerifier({ scheme: 'stripe', secret: SECRET });
    listener = (req, res) => {
      void (async () => {
        try {
          const body = await readBody(req);
          const event = await verify({ body, headers: req.headers });
          await pool.query(
            `INSERT INTO ${schema}.naive_events (source, event_id, type, payload) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING`,
            ['stripe', event.id, (event.payload as { type: string }).type, JSON.stringify(event.payload)],
          );
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"received":true}');
        } catch {
          res.writeHead(503);
          res.end();
        }
      })();
    };
    cleanup.push(() => pool.end());
  } else {
    // group commit: the library defaults, one batch at a time on PGlite (one connection);
    // INBOX_BENCH_* variables override them for tuning runs
    const env = (name: string) => (process.env[name] === undefined ? undefined : Number(process.env[name]));
    const tuning: GroupCommitOptions = Object.fromEntries(
      Object.entries({
        maxInFlight: env('INBOX_BENCH_INFLIGHT') ?? (kind === 'ballast-pglite' ? 1 : undefined),
        minParallelBatch: env('INBOX_BENCH_MINPAR'),
        maxBatch: env('INBOX_BENCH_BATCH'),
        lingerMs: env('INBOX_BENCH_LINGER'),
      }).filter(([, v]) => v !== undefined),
    );
    let db: Awaited<ReturnType<typeof createPGlite>>;
    if (kind === 'ballast-postgres') {
      db = await createPostgres({ connectionString: url, max: 16 });
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-pglite-'));
      db = await createPGlite(dir);
      cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    }
    await migrate(db, { schema, modules: ['inbox', 'idempotency'] });
    const handler = createWebhookHandler({
      source: 'stripe',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox: sqlInbox(db, {
        schema,
        groupCommit: tuning,
        onMetric: (m) => {
          if (m.name !== 'inbox.batch') return;
          batches.count++;
          batches.events += m.size;
          batches.inFlight += m.inFlight;
        },
      }),
    });
    listener = toNodeHandler(handler);
    cleanup.unshift(() => db.close());
  }

  const server = createServer(listener);
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const port = (server.address() as AddressInfo).port;
    process.stdout.write(`${JSON.stringify({ port, rssMiB: process.memoryUsage().rss / 2 ** 20 })}\n`);
  });
  process.on('SIGTERM', () => {
    // the process's own peak, load included: what a burst costs in memory
    const { count, events, inFlight } = batches;
    const group = count === 0 ? {} : { avgBatch: events / count, avgInFlight: inFlight / count };
    process.stdout.write(`${JSON.stringify({ peakRssMiB: process.resourceUsage().maxRSS / 1024, ...group })}\n`);
    server.close();
    void Promise.all(cleanup.map((c) => c())).finally(() => process.exit(0));
  });
}

// ------------------------------------------------------------------ main role

/** A server child: its port, its RSS once listening, and its peak RSS once stopped. */
interface ServerChild {
  child: ChildProcess;
  port: number;
  idleRssMiB: number;
  /** Resolves with what the child reports when stopped: its peak RSS, and its group commit's average batch. */
  stopped: Promise<{ peakRssMiB: number; avgBatch?: number; avgInFlight?: number }>;
}

let serverBundle: Promise<string> | undefined;

async function startServer(kind: Kind, schema: string): Promise<ServerChild> {
  // every server runs bundled in plain Node, as an app runs the built packages (see `bundled`)
  serverBundle ??= bundled(new URL(import.meta.url));
  const child = spawn(process.execPath, [await serverBundle], {
    env: { ...process.env, INBOX_BENCH_ROLE: 'server', INBOX_BENCH_KIND: kind, INBOX_BENCH_SCHEMA: schema },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const started = await new Promise<{ port: number; rssMiB: number }>((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line) as { port: number; rssMiB: number }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  const stopped = new Promise<{ peakRssMiB: number; avgBatch?: number; avgInFlight?: number }>((resolve) => {
    lines.on('line', (line) => {
      const report = JSON.parse(line) as { peakRssMiB?: number; avgBatch?: number; avgInFlight?: number };
      if (report.peakRssMiB !== undefined) resolve(report as { peakRssMiB: number });
    });
    child.once('exit', () => resolve({ peakRssMiB: Number.NaN }));
  });
  return { child, port: started.port, idleRssMiB: started.rssMiB, stopped };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Signs deliveries ahead of time, each a distinct event, so the load generator only sends. */
let sequence = 0;
function signedDeliveries(count: number): { body: string; headers: Record<string, string> }[] {
  const t = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, () => {
    const id = `evt_bench_${++sequence}`;
    const body = JSON.stringify({
      id,
      object: 'event',
      type: 'invoice.paid',
      created: t,
      data: { object: { id: `in_${sequence}`, object: 'invoice', amount_paid: 1999, currency: 'eur' } },
    });
    const sig = createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
    return { body, headers: { 'content-type': 'application/json', 'stripe-signature': `t=${t},v1=${sig}` } };
  });
}

async function load(port: number, seconds: number): Promise<autocannon.Result> {
  const deliveries = signedDeliveries(Math.max(20_000, seconds * 25_000));
  let next = 0;
  return autocannon({
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const d = deliveries[next++ % deliveries.length] as (typeof deliveries)[number];
          return { ...request, body: d.body, headers: d.headers };
        },
      },
    ],
  });
}

async function measure(name: string, kind: Kind, schema: string): Promise<BenchRow> {
  const { child, port } = await startServer(kind, schema);
  try {
    await load(port, WARMUP_S);
    const result = await load(port, DURATION_S);
    const ok = result['2xx'];
    return {
      name,
      opsPerSec: ok / result.duration,
      p50Ns: result.latency.p50 * 1e6,
      p99Ns: result.latency.p99 * 1e6,
      note: `${ok} ok, ${result.non2xx} non-2xx, ${result.errors} errors`,
    };
  } finally {
    await stopServer(child);
  }
}

/** The wrk binary on PATH, or undefined. */
function wrkOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'wrk'))) return join(dir, 'wrk');
  }
  return undefined;
}

/**
 * The wrk binary. The bench's setup installs it when it is missing and the
 * machine can (root with apt-get: Debian's `wrk` package); otherwise
 * undefined, and the wrk rows say how to install it.
 */
function findWrk(): string | undefined {
  const found = wrkOnPath();
  if (found || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return found;
  console.log('wrk is not installed: apt-get install -y wrk');
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit' });
  } catch {
    return undefined;
  }
  return wrkOnPath();
}

/**
 * Load from `wrk` (C, one thread: a light generator on a 2-core machine),
 * same connections and same signed deliveries as the autocannon rows,
 * through `bench/wrk/signed-post.lua`.
 */
async function wrkLoad(wrk: string, port: number, seconds: number, connections = CONNECTIONS) {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-wrk-'));
  const file = join(dir, 'deliveries.tsv');
  try {
    const deliveries = signedDeliveries(Math.max(20_000, seconds * 20_000));
    writeFileSync(file, deliveries.map((d) => `${d.headers['stripe-signature']}\t${d.body}`).join('\n'));
    const script = fileURLToPath(new URL('../wrk/signed-post.lua', import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        wrk,
        [
          '-t1',
          `-c${connections}`,
          `-d${seconds}s`,
          '--timeout',
          '10s',
          '-s',
          script,
          `http://127.0.0.1:${port}/webhooks/stripe`,
          '--',
          file,
        ],
        { maxBuffer: 1 << 20 },
        (error, out) => (error ? reject(error) : resolve(out)),
      ),
    );
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (!line) throw new Error(`wrk printed no result: ${stdout}`);
    return JSON.parse(line.slice('WRK_JSON '.length)) as {
      requests: number;
      durationUs: number;
      status: number;
      connect: number;
      read: number;
      write: number;
      timeout: number;
      p50Us: number;
      p99Us: number;
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureWrk(
  wrk: string,
  name: string,
  kind: Kind,
  schema: string,
  connections = CONNECTIONS,
  seconds = DURATION_S,
): Promise<BenchRow & { peakRssMiB: number; idleRssMiB: number; delivered: number; avgBatch?: number }> {
  const { child, port, idleRssMiB, stopped } = await startServer(kind, schema);
  let delivered = 0;
  let row: BenchRow;
  try {
    const warm = await wrkLoad(wrk, port, WARMUP_S, connections);
    const r = await wrkLoad(wrk, port, seconds, connections);
    const ok = r.requests - r.status;
    delivered = warm.requests - warm.status + ok;
    const errors = r.connect + r.read + r.write + r.timeout;
    row = {
      name,
      opsPerSec: ok / (r.durationUs / 1e6),
      p50Ns: r.p50Us * 1000,
      p99Ns: r.p99Us * 1000,
      note: `wrk, ${connections} connections: ${ok} ok, ${r.status} non-2xx, ${errors} socket errors`,
    };
  } finally {
    await stopServer(child);
  }
  const { peakRssMiB: peak, avgBatch, avgInFlight } = await stopped;
  row.note += `; server RSS ${idleRssMiB.toFixed(0)} MiB idle, ${peak.toFixed(0)} MiB peak`;
  if (avgBatch !== undefined) {
    row.note += `; group commit: ${avgBatch.toFixed(1)} events a batch, ${(avgInFlight ?? 0).toFixed(1)} in flight`;
  }
  return { ...row, peakRssMiB: peak, idleRssMiB, delivered, ...(avgBatch === undefined ? {} : { avgBatch }) };
}

/** Rounds of the naive/inbox pair over wrk (`INBOX_BENCH_ROUNDS`). */
const PAIR_ROUNDS = Number(process.env.INBOX_BENCH_ROUNDS ?? 3);

/**
 * The naive endpoint and the inbox over wrk, alternated for `PAIR_ROUNDS`
 * rounds (naive, inbox, naive, inbox...): on a shared 2-core machine one
 * 8-second run of either swings by up to a third, and alternating spreads a
 * slow spell over both. Each row is its median round (by requests/s), with
 * every round's rate in the note.
 */
async function pairedWrkRows(wrk: string, schema: string): Promise<BenchRow[]> {
  const pair = [
    ['naive insert per request (wrk)', 'naive', `${schema}_naive`],
    ['ballast inbox (postgres) (wrk)', 'ballast-postgres', `${schema}_inbox`],
  ] as const;
  const runs = pair.map(() => [] as Awaited<ReturnType<typeof measureWrk>>[]);
  for (let round = 0; round < PAIR_ROUNDS; round++) {
    for (const [i, [name, kind, s]] of pair.entries()) runs[i]?.push(await measureWrk(wrk, name, kind, s));
  }
  return runs.map((r) => {
    const sorted = [...r].sort((a, b) => a.opsPerSec - b.opsPerSec);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] as (typeof r)[number];
    const rates = r.map((x) => Math.round(x.opsPerSec).toLocaleString('en-US')).join(', ');
    return { ...median, note: `median of ${r.length} alternated rounds (${rates} req/s); ${median.note}` };
  });
}

/**
 * The durable write alone, without HTTP: 64 concurrent writers in this
 * process, one INSERT each on a pool of 16 against `inbox.ingest()` through
 * group commit. Shows the mechanism when the HTTP path (and a noisy machine's
 * scheduler) is not in the way.
 */
async function directRows(url: string | undefined, schema: string): Promise<BenchRow[]> {
  const payload = { object: 'event', type: 'invoice.paid', data: { object: { id: 'in_1', amount_paid: 1999 } } };
  const writers = CONNECTIONS;
  const run = async (name: string, write: (i: number) => Promise<unknown>): Promise<BenchRow> => {
    for (let i = 0; i < 500; i++) await write(-i - 1); // warm up connections and plans
    let next = 0;
    const latencies: number[] = [];
    const started = performance.now();
    const until = started + DURATION_S * 500;
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (performance.now() < until) {
          const t = performance.now();
          await write(next++);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0) * 1e6;
    return {
      name,
      opsPerSec: latencies.length / seconds,
      p50Ns: at(0.5),
      p99Ns: at(0.99),
      note: `${latencies.length} writes`,
    };
  };
  const rows: BenchRow[] = [];
  if (url) {
    const { pool } = await createPostgres({ connectionString: url, max: 16 });
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await pool.query(
      `CREATE TABLE ${schema}.direct_naive (source text NOT NULL, event_id text NOT NULL, type text NOT NULL,
         payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, event_id))`,
    );
    const body = JSON.stringify(payload);
    rows.push(
      await run('direct: naive insert per event', (i) =>
        pool.query(
          `INSERT INTO ${schema}.direct_naive (source, event_id, type, payload) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
          ['stripe', `evt_${i}`, 'invoice.paid', body],
        ),
      ),
    );
    await pool.end();
    const db = await createPostgres({ connectionString: url, max: 16 });
    await migrate(db, { schema: `${schema}_direct`, modules: ['inbox'] });
    const inbox = sqlInbox(db, { schema: `${schema}_direct` });
    rows.push(
      await run('direct: ballast ingest (postgres)', (i) => inbox.ingest('stripe', { id: `evt_${i}`, payload })),
    );
    await inbox.close();
    await db.exec(`DROP SCHEMA IF EXISTS ${schema}_direct CASCADE`);
    await db.close();
  }
  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-pglite-'));
  const lite = await createPGlite(dir);
  await migrate(lite, { modules: ['inbox'] });
  const liteInbox = sqlInbox(lite, { groupCommit: { maxInFlight: 1 } });
  rows.push(
    await run('direct: ballast ingest (pglite)', (i) => liteInbox.ingest('stripe', { id: `evt_${i}`, payload })),
  );
  await liteInbox.close();
  await lite.close();
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

/** A burst: ten minutes of deliveries at 100 a second, the backlog a provider replays after an outage. */
const BURST_EVENTS = 60_000;
const BURST_CONNECTIONS = 256;

/**
 * Peak RSS of each server process under a burst: 256 connections (a provider
 * replaying its backlog opens many), as fast as wrk sends, for long enough
 * to deliver at least {@link BURST_EVENTS} on this machine.
 */
async function burstRows(wrk: string, schema: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [name, kind, s] of [
    ['naive insert per request', 'naive', `${schema}_naive`],
    ['ballast inbox (postgres)', 'ballast-postgres', `${schema}_inbox`],
  ] as const) {
    const r = await measureWrk(wrk, name, kind, s, BURST_CONNECTIONS, DURATION_S);
    const enough =
      r.delivered >= BURST_EVENTS ? '' : ` (fewer than ${BURST_EVENTS.toLocaleString('en-US')}: a slower machine)`;
    rows.push({
      name: `peak RSS in a burst, ${name} (MiB)`,
      opsPerSec: r.peakRssMiB,
      note: `${r.delivered.toLocaleString('en-US')} events delivered${enough} over ${BURST_CONNECTIONS} connections at ${Math.round(r.opsPerSec).toLocaleString('en-US')}/s, p99 ${(r.p99Ns ?? 0) / 1e6} ms; ${r.idleRssMiB.toFixed(0)} MiB idle`,
    });
  }
  return rows;
}

/**
 * `--curve`: the naive endpoint and the inbox over wrk at 1, 8, 64 and 256
 * connections (INBOX_CURVE_CONNECTIONS), charted as requests per second,
 * with p99 and the server's peak RSS in the JSON.
 */
async function curve(wrk: string, schema: string): Promise<void> {
  const points: CurvePoint[] = [];
  const seconds = Number(process.env.INBOX_CURVE_SECONDS ?? 5);
  const sizes = (process.env.INBOX_CURVE_CONNECTIONS ?? '1,8,64,256').split(',').map(Number);
  for (const connections of sizes) {
    for (const [series, kind, s] of [
      ['naive insert per request', 'naive', `${schema}_naive`],
      ['ballast inbox (postgres)', 'ballast-postgres', `${schema}_inbox`],
    ] as const) {
      console.log(`  ${series}, ${connections} connections...`);
      const r = await measureWrk(wrk, series, kind, s, connections, seconds);
      points.push({
        series,
        x: connections,
        y: r.opsPerSec,
        extra: {
          p50Ms: (r.p50Ns ?? 0) / 1e6,
          p99Ms: (r.p99Ns ?? 0) / 1e6,
          peakRssMiB: r.peakRssMiB,
          ...(r.avgBatch === undefined ? {} : { eventsPerCommit: r.avgBatch }),
        },
      });
    }
  }
  const at = (series: string, x: number) => points.find((p) => p.series === series && p.x === x)?.y ?? Number.NaN;
  await writeCurve(
    'inbox',
    {
      title: 'Webhook ingest over HTTP by concurrent connections',
      x: 'connections',
      y: 'requests per second',
      xLog: true,
    },
    points,
    sizes.map(
      (c) =>
        `${c} connections: inbox / naive ${(at('ballast inbox (postgres)', c) / at('naive insert per request', c)).toFixed(2)}`,
    ),
  );
}

async function main(): Promise<void> {
  const rows: BenchRow[] = [];
  const schema = `ballast_bench_${process.pid}`;
  const url = process.env.DATABASE_URL;
  if (curveMode) {
    const wrk = findWrk();
    if (!url || !wrk) {
      console.log('inbox --curve needs DATABASE_URL and wrk');
      return;
    }
    try {
      await curve(wrk, schema);
    } finally {
      const db = await createPostgres({ connectionString: url, max: 1 });
      for (const s of [`${schema}_naive`, `${schema}_inbox`]) await db.exec(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await db.close();
    }
    return;
  }
  rows.push(await measure('bare node:http 200', 'bare', schema));
  rows.push(await measure('verify + 200, nothing stored (ceiling)', 'verify', schema));
  if (url) {
    rows.push(await measure('naive insert per request', 'naive', `${schema}_naive`));
    rows.push(await measure('ballast inbox (postgres)', 'ballast-postgres', `${schema}_inbox`));
  } else {
    console.log('DATABASE_URL is not set: the Postgres rows are skipped');
  }
  rows.push(await measure('ballast inbox (pglite)', 'ballast-pglite', schema));
  const wrk = findWrk();
  if (!url) {
    console.log('wrk rows skipped: DATABASE_URL is not set');
  } else if (!wrk) {
    console.log(
      'wrk rows skipped: wrk is not installed (Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)',
    );
  } else {
    rows.push(await measureWrk(wrk, 'bare node:http 200 (wrk)', 'bare', schema));
    rows.push(await measureWrk(wrk, 'verify + 200, nothing stored (ceiling) (wrk)', 'verify', schema));
    rows.push(...(await pairedWrkRows(wrk, schema)));
    rows.push(...(await burstRows(wrk, schema)));
  }
  rows.push(...(await directRows(url, schema)));
  if (url) {
    const db = await createPostgres({ connectionString: url, max: 1 });
    for (const s of [schema, `${schema}_naive`, `${schema}_inbox`]) await db.exec(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await db.close();
  }
  const p99 = (rows: ReadonlyMap<string, BenchRow>, name: string) => rows.get(name)?.p99Ns ?? Number.NaN;
  report('inbox', rows, [
    {
      label: 'ballast inbox (postgres) >= 2.5x naive insert per request',
      measured: (r) => speedup(r, 'ballast inbox (postgres)', 'naive insert per request'),
      met: (v) => v >= 2.5,
    },
    {
      label: 'ballast inbox (postgres) p99 / naive p99 (<= 1)',
      measured: (r) => p99(r, 'ballast inbox (postgres)') / p99(r, 'naive insert per request'),
      met: (v) => v <= 1,
    },
    {
      label: 'wrk: ballast inbox (postgres) >= 2.5x naive insert per request',
      measured: (r) => speedup(r, 'ballast inbox (postgres) (wrk)', 'naive insert per request (wrk)'),
      met: (v) => v >= 2.5,
    },
    {
      label: 'wrk: ballast inbox (postgres) p99 / naive p99 (<= 1)',
      measured: (r) => p99(r, 'ballast inbox (postgres) (wrk)') / p99(r, 'naive insert per request (wrk)'),
      met: (v) => v <= 1,
    },
    {
      label: 'wrk: ballast inbox (postgres) / verify + 200 ceiling (share of the endpoint without a store)',
      measured: (r) => speedup(r, 'ballast inbox (postgres) (wrk)', 'verify + 200, nothing stored (ceiling) (wrk)'),
    },
    {
      label: `peak RSS in a burst (${BURST_EVENTS.toLocaleString('en-US')}+ events, ${BURST_CONNECTIONS} connections): inbox / naive (<= 1.5)`,
      measured: (r) =>
        (r.get('peak RSS in a burst, ballast inbox (postgres) (MiB)')?.opsPerSec ?? Number.NaN) /
        (r.get('peak RSS in a burst, naive insert per request (MiB)')?.opsPerSec ?? Number.NaN),
      met: (v) => v <= 1.5,
    },
    {
      label: 'direct: ballast ingest (postgres) / naive insert per event (no HTTP)',
      measured: (r) => speedup(r, 'direct: ballast ingest (postgres)', 'direct: naive insert per event'),
      met: (v) => v >= 2.5,
    },
  ]);
}

if (process.env.INBOX_BENCH_ROLE === 'server') await serve(process.env.INBOX_BENCH_KIND as Kind);
else await main();

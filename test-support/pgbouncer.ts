/**
 * A real transaction-mode pooler for the suites that prove Ballast works the
 * way Supabase's pooler on port 6543 is used: PgBouncer (Debian's
 * `pgbouncer` package) in `pool_mode = transaction` in front of the database
 * of `DATABASE_URL`, on a free local port, configured in a temp directory.
 *
 * Each suite starts its own (a few MB, milliseconds to start), so pool state
 * never leaks from one file to another and engineers sharing the machine never
 * collide on a port. `PGBOUNCER_URL` points the suites at an existing
 * transaction-mode pooler instead (the database must be `DATABASE_URL`'s).
 *
 * Locally, without `DATABASE_URL` or without the `pgbouncer` binary, the
 * suites are skipped with the reason in their name; under CI (`CI=true`) that
 * is an error instead, as for the other services.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { databaseUrl } from './services';

/** Server connections per database/user pair: fewer than the suites' client pools, so clients really share them. */
export const POOL_SIZE = 4;

export interface PgBouncer {
  /** A connection string through the pooler, to `DATABASE_URL`'s database. */
  readonly url: string;
  /** The pooler's log (empty when `PGBOUNCER_URL` was given). */
  log(): string;
  stop(): Promise<void>;
}

/** The `pgbouncer` executable, or undefined when it is not installed. */
export function pgbouncerBinary(): string | undefined {
  for (const candidate of ['pgbouncer', '/usr/sbin/pgbouncer', '/usr/local/sbin/pgbouncer']) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0 && /PgBouncer \d/.test(probe.stdout ?? '')) return candidate;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts PgBouncer in transaction mode in front of `directUrl`'s server and
 * database. Prepared statements are not tracked by the pooler
 * (`max_prepared_statements` does not exist before PgBouncer 1.21 and is 0
 * here when it does), as on Supabase's shared pooler in transaction mode.
 * `port` restarts one where a stopped one listened (an outage and its end).
 */
export async function startPgBouncer(
  directUrl: string,
  options: { port?: number; binary?: string } = {},
): Promise<PgBouncer> {
  const binary = options.binary ?? pgbouncerBinary();
  if (!binary) throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)');
  const direct = new URL(directUrl);
  const database = decodeURIComponent(direct.pathname.slice(1)) || 'postgres';
  const user = decodeURIComponent(direct.username) || 'postgres';
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'ballast-pgbouncer-'));
  const logFile = join(dir, 'pgbouncer.log');
  const password = direct.password ? ` password=${decodeURIComponent(direct.password)}` : '';
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout;
  const [, major = '1', minor = '0'] = /PgBouncer (\d+)\.(\d+)/.exec(version) ?? [];
  const tracksPrepared = Number(major) > 1 || Number(minor) >= 21;
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=${direct.hostname} port=${direct.port || '5432'} dbname=${database} user=${user}${password}`,
      // any other database on the same server, for suites that create their own
      `* = host=${direct.hostname} port=${direct.port || '5432'} user=${user}${password}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      'pool_mode = transaction',
      `default_pool_size = ${POOL_SIZE}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,options',
      // a client waiting for a server connection fails after 30 s instead of hanging a suite
      'query_wait_timeout = 30',
      ...(tracksPrepared ? ['max_prepared_statements = 0'] : []),
      `logfile = ${logFile}`,
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root: as root, it runs as the postgres user (-u)
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    chmodSync(dir, 0o755);
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(ids.stdout.trim()), Number(gid.stdout.trim()));
  }
  const child: ChildProcess = spawn(binary, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // a test run that dies without its afterAll does not leave the pooler behind
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return stderr;
    }
  };
  for (let i = 0; i < 100 && !(await accepts(port)); i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}):\n${stderr}${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!(await accepts(port))) throw new Error(`pgbouncer did not listen on ${port}:\n${log()}`);
  const url = new URL(directUrl);
  url.port = String(port);
  url.hostname = '127.0.0.1';
  return {
    url: url.toString(),
    log,
    stop: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why the pooler suites cannot run here, or undefined when they can. */
function unavailable(): string | undefined {
  if (!databaseUrl()) return 'DATABASE_URL is not set';
  if (process.env.PGBOUNCER_URL) return undefined;
  if (pgbouncerBinary()) return undefined;
  const reason = 'pgbouncer is not installed (apt-get install -y pgbouncer) and PGBOUNCER_URL is not set';
  if (process.env.CI === 'true') throw new Error(`${reason}: under CI the pooler suites may not be skipped`);
  return reason;
}

/**
 * `describe` for suites that run through a transaction-mode pooler: `fn` gets
 * the pooled URL and the direct one. Skipped, with the reason in the name,
 * without Postgres or PgBouncer (an error under CI).
 */
export function describeWithPgBouncer(name: string, fn: (pooledUrl: string, directUrl: string) => void): void {
  const reason = unavailable();
  if (reason) {
    describe.skip(`${name} [pgbouncer] (skipped: ${reason})`, () => fn('', ''));
    return;
  }
  const direct = databaseUrl() as string;
  describe(`${name} [pgbouncer transaction mode]`, async () => {
    const given = process.env.PGBOUNCER_URL;
    const pooler: PgBouncer = given
      ? { url: given, log: () => '', stop: async () => {} }
      : await startPgBouncer(direct);
    afterAll(() => pooler.stop());
    fn(pooler.url, direct);
  });
}

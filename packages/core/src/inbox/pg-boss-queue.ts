import { InboxError } from './errors';
import type { InboxJob, InboxQueue } from './queue';

/**
 * The part of a started pg-boss (v10 and later) instance the queue uses,
 * described structurally so pg-boss stays an optional peer dependency.
 */
export interface PgBossLike {
  getQueue(name: string): Promise<object | null>;
  createQueue(name: string, options?: { retryLimit?: number }): Promise<void>;
  insert(name: string, jobs: { data?: object; startAfter?: Date }[]): Promise<unknown>;
  work<T>(
    name: string,
    options: { localConcurrency?: number; batchSize?: number; pollingIntervalSeconds?: number },
    handler: (jobs: { data: T }[]) => Promise<unknown>,
  ): Promise<string>;
  offWork(name: string, options?: { id?: string; wait?: boolean }): Promise<void>;
}

/** Options for {@link pgBossQueue}. */
export interface PgBossQueueOptions {
  /**
   * Prefix of the pg-boss queue names; the inbox topic (`inbox.<source>`) is appended.
   * @default 'ballast'
   */
  prefix?: string;
  /**
   * How often an idle worker polls pg-boss for jobs, in seconds (pg-boss's minimum is 0.5).
   * The inbox's own sweep is the backstop, so this can stay short.
   * @default 0.5
   */
  pollingIntervalSeconds?: number;
  /**
   * Jobs fetched per poll by each of the `concurrency` pg-boss workers.
   * @default 1
   */
  batchSize?: number;
}

const DEFAULTS: Readonly<Required<PgBossQueueOptions>> = Object.freeze({
  prefix: 'ballast',
  pollingIntervalSeconds: 0.5,
  batchSize: 1,
});

const NAME = /^[\w.\-/]+$/;

/**
 * The event key a job carries, or undefined for a job that is not ours. Jobs
 * queued before the key's field was named `id` carry `eventId`: still run.
 */
function jobOf(data: unknown): InboxJob | undefined {
  const job = data as { source?: unknown; id?: unknown; eventId?: unknown } | null;
  if (typeof job?.source !== 'string') return undefined;
  const id = typeof job.id === 'string' ? job.id : job.eventId;
  return typeof id === 'string' ? { source: job.source, id } : undefined;
}

/**
 * An {@link InboxQueue} on pg-boss: jobs live in Postgres, so any process
 * running a worker for the source can take an event stored by any other. Pass
 * a started `PgBoss`; its schema is the one given to the `PgBoss` constructor
 * (`new PgBoss({ connectionString, schema: 'jobs' })`). pg-boss needs a real
 * Postgres: with PGlite, use the in-process queue.
 *
 * Retries and dead-lettering stay with the inbox (its rows hold attempts and
 * errors); pg-boss only carries "process event X" signals, with `startAfter`
 * for backoff.
 *
 * @example
 * ```ts
 * import { PgBoss } from 'pg-boss';
 * const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, schema: 'pgboss' });
 * await boss.start();
 * const queue = pgBossQueue(boss);
 * ```
 */
export function pgBossQueue(boss: PgBossLike, options: PgBossQueueOptions = {}): InboxQueue {
  if (typeof boss?.insert !== 'function' || typeof boss.work !== 'function') {
    throw new InboxError('pgBossQueue', 'invalid_options', 'boss must be a started PgBoss instance');
  }
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (typeof o.prefix !== 'string' || !NAME.test(o.prefix)) {
    throw new InboxError('pgBossQueue', 'invalid_options', 'prefix may only hold letters, digits and "_.-/"');
  }
  if (!(o.pollingIntervalSeconds >= 0.5)) {
    throw new InboxError('pgBossQueue', 'invalid_options', 'pollingIntervalSeconds must be at least 0.5');
  }
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) {
    throw new InboxError('pgBossQueue', 'invalid_options', 'batchSize must be a positive integer');
  }
  const ready = new Map<string, Promise<void>>();

  const queueName = (topic: string) => `${o.prefix}.${topic}`;

  /** Creates the pg-boss queue once per name (pg-boss requires it before send and work). */
  const ensure = (name: string): Promise<void> => {
    let done = ready.get(name);
    if (!done) {
      done = (async () => {
        if (await boss.getQueue(name)) return;
        try {
          // retries are the inbox's job: a pg-boss job only says "look at event X"
          await boss.createQueue(name, { retryLimit: 0 });
        } catch (error) {
          if (!(await boss.getQueue(name))) throw error;
        }
      })();
      done.catch(() => ready.delete(name));
      ready.set(name, done);
    }
    return done;
  };

  return {
    async send(topic, jobs, sendOptions = {}) {
      if (jobs.length === 0) return;
      const name = queueName(topic);
      await ensure(name);
      await boss.insert(
        name,
        jobs.map((job) => ({
          data: { source: job.source, id: job.id },
          ...(sendOptions.startAfter ? { startAfter: sendOptions.startAfter } : {}),
        })),
      );
    },
    async work(topic, handler, workOptions) {
      const name = queueName(topic);
      await ensure(name);
      const id = await boss.work<unknown>(
        name,
        {
          localConcurrency: workOptions.concurrency,
          batchSize: o.batchSize,
          pollingIntervalSeconds: o.pollingIntervalSeconds,
        },
        async (batch) => {
          for (const { data } of batch) {
            // a job another producer put on the queue without an event key is not ours to run
            const job = jobOf(data);
            if (job !== undefined) await handler(job);
          }
        },
      );
      return {
        async stop() {
          await boss.offWork(name, { id, wait: true });
        },
      };
    },
  };
}

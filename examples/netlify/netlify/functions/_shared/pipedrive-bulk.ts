/**
 * The Pipedrive bulk job behind the background function: a POST with the
 * job's name, the unique field and the records runs `bulkUpsertPersons`,
 * checkpointed in the database, until it is done or the deadline is near.
 * Built from a database and a client handed in, so the tests run the same
 * code against PGlite, Postgres and the fake Pipedrive.
 */
import { timingSafeEqual } from 'node:crypto';
import { isBulkError } from '@ballast/core/bulk';
import { type SqlClient, sqlBulkCheckpoints } from '@ballast/core/stores/sql';
import { bulkUpsertPersons, type PipedriveClient } from '@ballast/pipedrive';
import { z } from 'zod';

/** What the function accepts: the job (its checkpoint), the unique field, the records. */
const jobSchema = z.object({
  job: z.string().regex(/^[\w.:@/-]{1,200}$/),
  uniqueField: z.string().min(1),
  records: z.array(z.object({ key: z.string().min(1).max(1000), data: z.record(z.string(), z.unknown()) })).max(20_000),
});

export interface PipedriveBulkJobOptions {
  db: SqlClient;
  client: PipedriveClient;
  /** The bearer token a caller must send: the function's URL is public. */
  secret: string;
  /** Schema of the checkpoint tables. @default 'ballast' */
  schema?: string;
  /**
   * Stop (checkpointed) this long after the start: a background function
   * runs at most 15 minutes.
   * @default 840_000 (14 minutes)
   */
  deadlineMs?: number;
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The job as a Request handler. Answers (Netlify does not wait for a
 * background function's answer; it is logged, and the tests read it):
 * 200 with the result (`completed`, or `paused` until the budget's reset),
 * 202 when the deadline stopped it (send the same request again to resume),
 * 400 for a body that is not a job, 401 without the secret (nothing runs),
 * 405 for anything but POST, 502 when Pipedrive stopped the job (bad token,
 * ban), 503 when the checkpoint store is down.
 */
export function pipedriveBulkJob(options: PipedriveBulkJobOptions): (request: Request) => Promise<Response> {
  const checkpoints = sqlBulkCheckpoints(options.db, options.schema === undefined ? {} : { schema: options.schema });
  return async (request) => {
    if (request.method !== 'POST') return Response.json({ error: 'method_not_allowed' }, { status: 405 });
    const auth = request.headers.get('authorization') ?? '';
    if (!same(auth, `Bearer ${options.secret}`)) return Response.json({ error: 'unauthorized' }, { status: 401 });
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: 'invalid_json' }, { status: 400 });
    }
    const parsed = jobSchema.safeParse(body);
    if (!parsed.success)
      return Response.json({ error: 'invalid_job', issues: parsed.error.issues.slice(0, 5) }, { status: 400 });
    const { job, uniqueField, records } = parsed.data;
    const deadline = AbortSignal.timeout(options.deadlineMs ?? 840_000);
    try {
      const result = await bulkUpsertPersons(options.client, {
        job,
        uniqueField,
        records,
        checkpoints,
        signal: deadline,
      });
      return Response.json({
        job,
        status: result.status,
        total: result.total,
        done: result.done,
        created: result.created,
        updated: result.updated,
        failures: result.failures,
        remaining: result.remaining,
        ...(result.resumeAfter ? { resumeAfter: result.resumeAfter.toISOString() } : {}),
      });
    } catch (error) {
      if (isBulkError(error) && error.code === 'aborted')
        return Response.json(
          { job, status: 'interrupted', done: error.done, resume: 'send the same request again' },
          { status: 202 },
        );
      if (isBulkError(error) && error.code === 'invalid_options')
        return Response.json({ job, error: 'invalid_job', message: error.message }, { status: 400 });
      if (isBulkError(error) && error.code === 'store_failed')
        return Response.json({ job, error: 'unavailable' }, { status: 503, headers: { 'retry-after': '30' } });
      if (isBulkError(error))
        return Response.json({ job, error: error.code, message: error.message, done: error.done }, { status: 502 });
      if ((error as { name?: string }).name === 'PipedriveUsageError')
        return Response.json({ job, error: 'invalid_job', message: (error as Error).message }, { status: 400 });
      throw error;
    }
  };
}

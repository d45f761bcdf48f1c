/**
 * The Pipedrive bulk job as deployed: Postgres from BALLAST_DB_URL, the
 * token from PIPEDRIVE_API_TOKEN (PIPEDRIVE_PLAN, PIPEDRIVE_COMPANY_DOMAIN,
 * and PIPEDRIVE_BASE_URL for a staging or fake server), the caller's bearer
 * token from BULK_JOB_SECRET. Opened once per warm instance, on first use.
 */
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate } from '@ballast/core/stores/sql';
import { secret } from '@ballast/core/vault';
import { type PipedrivePlan, pipedriveClient } from '@ballast/pipedrive';
import { pipedriveBulkJob } from './pipedrive-bulk.ts';

let job: Promise<(request: Request) => Promise<Response>> | undefined;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (Site configuration > Environment variables, Functions scope)`);
  return value;
}

/** The job handler of this warm instance; a failed start is not kept (the next invocation tries again). */
export function deployedBulkJob(): Promise<(request: Request) => Promise<Response>> {
  job ??= (async () => {
    const db = await createPostgres({ connectionString: required('BALLAST_DB_URL'), max: 2 });
    try {
      await migrate(db, { modules: ['bulk'] });
    } catch (error) {
      await db.close().catch(() => {});
      throw error;
    }
    const env = process.env;
    const client = pipedriveClient({
      auth: { type: 'api_token', token: secret(required('PIPEDRIVE_API_TOKEN')) },
      plan: (env.PIPEDRIVE_PLAN ?? 'lite') as PipedrivePlan,
      ...(env.PIPEDRIVE_COMPANY_DOMAIN ? { companyDomain: env.PIPEDRIVE_COMPANY_DOMAIN } : {}),
      ...(env.PIPEDRIVE_BASE_URL ? { baseUrl: env.PIPEDRIVE_BASE_URL } : {}),
    });
    return pipedriveBulkJob({ db, client, secret: required('BULK_JOB_SECRET') });
  })().catch((error: unknown) => {
    job = undefined;
    throw error;
  });
  return job;
}

// A background function (the `-background` suffix): Netlify answers the caller 202 at once and
// runs this for up to 15 minutes. POST { job, uniqueField, records } with `Authorization: Bearer
// <BULK_JOB_SECRET>`; the job is checkpointed in Postgres, so sending the same request again
// resumes it (after the deadline, a crash, or the daily budget's reset) without duplicates.
import type { Context } from '@netlify/functions';
import { deployedBulkJob } from './_shared/pipedrive-env.ts';

export default async (request: Request, context: Context): Promise<Response> => {
  let response: Response;
  try {
    response = await (await deployedBulkJob())(request);
  } catch (error) {
    console.error('[pipedrive-bulk-background] cannot run:', error);
    response = Response.json({ error: 'unavailable' }, { status: 503 });
  }
  // one log line per run: Netlify discards a background function's answer
  const summary = await response
    .clone()
    .json()
    .catch(() => ({}));
  console.log(
    JSON.stringify({
      fn: 'pipedrive-bulk-background',
      requestId: context.requestId,
      status: response.status,
      ...summary,
      failures: undefined,
    }),
  );
  return response;
};

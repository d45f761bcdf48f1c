/**
 * The example's CLI: pulls Pipedrive persons into the app's contacts table,
 * then pushes a change to some of them back as a bulk job with a progress
 * bar. Reads the environment (the library never does).
 *
 *   node --conditions=@ballast/source --import tsx pipedrive-sync/main.ts
 *
 * Environment (all optional):
 *   DATABASE_URL               Postgres; without it, an in-memory PGlite
 *   PIPEDRIVE_API_TOKEN        a real company's token; without it, the fake Pipedrive's local server
 *   PIPEDRIVE_COMPANY_DOMAIN   with the token: `acme` for acme.pipedrive.com
 *   PIPEDRIVE_PLAN             lite | growth | premium | ultimate (default lite)
 *   BALLAST_SCHEMA             schema of Ballast's tables (default ballast)
 *   CONTACTS_TABLE             the app's table (default contacts)
 *   CONTACTS                   persons in the fake (default 5000)
 *   PUSH                       contacts to change and push back (default 1000)
 *   JOB                        the bulk job's name: run it again to resume (default vip-<PUSH>)
 */
import { createPGlite } from '@ballast/core/stores/pglite';
import { createPostgres } from '@ballast/core/stores/postgres';
import type { SqlClient } from '@ballast/core/stores/sql';
import { secret } from '@ballast/core/vault';
import { type PipedrivePlan, pipedriveClient } from '@ballast/pipedrive';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from '@ballast/pipedrive/testing';
import { createPipedriveSyncApp } from './app';
import { progressBar } from './progress';

const env = process.env;
const push = Number(env.PUSH ?? 1000);
const plan = (env.PIPEDRIVE_PLAN ?? 'lite') as PipedrivePlan;
const db: SqlClient = env.DATABASE_URL ? await createPostgres(env.DATABASE_URL) : await createPGlite();
let stopFake: (() => Promise<void>) | undefined;

let client: ReturnType<typeof pipedriveClient>;
if (env.PIPEDRIVE_API_TOKEN) {
  client = pipedriveClient({
    auth: { type: 'api_token', token: secret(env.PIPEDRIVE_API_TOKEN) },
    plan,
    ...(env.PIPEDRIVE_COMPANY_DOMAIN ? { companyDomain: env.PIPEDRIVE_COMPANY_DOMAIN } : {}),
  });
} else {
  // Offline: the fake's local server, with Pipedrive's limits in a 100 ms window instead of 2 s.
  const windowMs = 100;
  const fake = createFakePipedrive({ plan, windowMs, seed: 42 });
  fake.seed({ person: Number(env.CONTACTS ?? 5000) });
  const server = await fake.listen();
  client = pipedriveClient({
    auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
    plan,
    baseUrl: server.url,
    windowMs,
  });
  stopFake = async () => {
    const stats = fake.stats();
    console.log(`fake Pipedrive: ${stats.requests} requests, ${stats.rateLimited} answered 429, ${stats.bans} bans`);
    await server.close();
  };
  console.log(
    `fake Pipedrive on ${server.url} (${plan}, API token; the 2 s burst window compressed to ${windowMs} ms)`,
  );
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted: run again to resume')));

try {
  const app = await createPipedriveSyncApp({
    db,
    client,
    ...(env.BALLAST_SCHEMA ? { schema: env.BALLAST_SCHEMA } : {}),
    ...(env.CONTACTS_TABLE ? { contactsTable: env.CONTACTS_TABLE } : {}),
  });
  const started = Date.now();
  const pulled = await app.pull('full');
  console.log(`pulled ${pulled.read} persons, ${await app.count()} contacts in the app (${Date.now() - started} ms)`);

  const chosen = await app.contacts(push);
  const job = env.JOB ?? `vip-${push}`;
  const bar = progressBar();
  const result = await app.push(
    job,
    chosen
      .filter((c) => c.email)
      .map((c) => ({ email: c.email as string, name: `${c.name.replace(/ \(VIP\)$/, '')} (VIP)` })),
    {
      signal: controller.signal,
      onPlan: (p) =>
        console.log(
          `job ${job}: ${p.pending} to write (${p.alreadyDone} done before), ~${p.requests} requests, ${p.cost} of ${p.budgetRemaining ?? '?'} budget units left today${p.finishesToday ? '' : `: only ${p.fitsToday} fit today, the rest after the reset`}`,
        ),
      onProgress: (p) => bar.update(p),
    },
  );
  bar.end();
  console.log(
    `job ${job} ${result.status}: ${result.updated} updated, ${result.created} created, ${result.failures.length} failed, ${result.requests} requests in ${result.elapsedMs} ms${result.resumeAfter ? `; resume after ${result.resumeAfter.toISOString()}` : ''}`,
  );
  for (const f of result.failures.slice(0, 10)) console.log(`  failed ${f.key}: ${f.code} ${f.message}`);
  const back = await app.pull('incremental');
  console.log(`incremental pull: ${back.read} changed persons read back`);
  process.exitCode = result.failures.length === 0 ? 0 : 1;
} finally {
  await stopFake?.();
  await db.close();
}

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPostgres } from '@ballast/core/stores/postgres';
import { describe, expect, it } from 'vitest';
import { describeWithPostgres, uniqueSchema } from '../../test-support/services';

const run = promisify(execFile);

async function cli(env: Record<string, string>): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    ['--conditions=@ballast/source', '--import', 'tsx', 'pipedrive-sync/main.ts'],
    {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, DATABASE_URL: '', PIPEDRIVE_API_TOKEN: '', CONTACTS: '600', PUSH: '200', ...env },
      timeout: 120_000,
    },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    throw new Error(`pipedrive-sync exited non-zero:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
  });
  return stdout;
}

function expectRun(stdout: string) {
  expect(stdout).toContain('pulled 600 persons, 600 contacts in the app');
  expect(stdout).toMatch(/job vip-200: 200 to write \(0 done before\)/);
  // the progress bar, printed at each quarter in a log
  expect(stdout).toMatch(/\[#{30}\] 200\/200 100% {2}0 failed/);
  expect(stdout).toMatch(/job vip-200 completed: 200 updated, 0 created, 0 failed/);
  expect(stdout).toMatch(/incremental pull: \d+ changed persons read back/);
  expect(stdout).toMatch(/fake Pipedrive: \d+ requests, 0 answered 429, 0 bans/);
}

describe('examples/pipedrive-sync', () => {
  it('pulls the fake Pipedrive into PGlite and pushes 200 changes back with a progress bar', async () => {
    expectRun(await cli({}));
  }, 150_000);
});

describeWithPostgres('examples/pipedrive-sync on Postgres', (url) => {
  it('runs the same against DATABASE_URL', async () => {
    const schema = uniqueSchema('pd_sync');
    try {
      expectRun(await cli({ DATABASE_URL: url, BALLAST_SCHEMA: schema, CONTACTS_TABLE: `${schema}.contacts` }));
    } finally {
      const db = await createPostgres({ connectionString: url, max: 1 });
      await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
  }, 150_000);
});

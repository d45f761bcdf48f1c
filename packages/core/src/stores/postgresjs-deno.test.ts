import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { denoExecutable } from '../../../../test-support/deno';
import { describeWithPostgres, uniqueSchema } from '../../../../test-support/services';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');

describeWithPostgres('the postgres.js driver under Deno', (url) => {
  let denoDir: string;
  beforeAll(async () => {
    denoDir = await mkdtemp(join(tmpdir(), 'ballast-deno-pg-'));
  });
  afterAll(() => rm(denoDir, { recursive: true, force: true }));

  it('migrates, ingests with de-duplication, runs idempotent() once and rolls back a failed transaction', async () => {
    const schema = uniqueSchema('denopg');
    const flags = [
      '--no-remote',
      '--no-lock',
      // no config discovery: Deno would otherwise fold pnpm-workspace.yaml into the root package.json
      '--no-config',
      '--sloppy-imports',
      '--conditions=@ballast/source',
      '--node-modules-dir=manual',
      '--allow-net=127.0.0.1',
      '--allow-env',
      '--allow-read',
      '--allow-sys',
    ];
    const { stdout } = await run(
      denoExecutable(),
      ['run', ...flags, join(here, 'testdata', 'deno-postgresjs.ts'), url, schema],
      {
        cwd: packageRoot,
        env: { ...process.env, DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
        timeout: 60_000,
      },
    );
    const results = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    expect(results).toEqual({
      runtime: 'object',
      migrated: true,
      migratedAgain: [],
      ingest: ['stored', 'duplicate'],
      stored: { type: 'invoice.paid', status: 'received', payload: { type: 'invoice.paid', n: 1 } },
      idempotent: [11, 11, 1],
      rollbackError: '42P01',
      transaction: 42,
    });
  }, 90_000);
});

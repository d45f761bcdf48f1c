import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('pnpm demo', () => {
  it('runs every scenario and all of its checks hold', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=@ballast/source', '--import', 'tsx', 'demo/run.ts'], {
      cwd: new URL('..', import.meta.url),
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`demo exited non-zero:\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    expect(stdout).toMatch(/\d+ scenarios in [\d.]+ s, all checks held/);
    expect(stdout).not.toContain('✗');
  }, 300_000);
});

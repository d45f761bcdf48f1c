import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('../..', import.meta.url));

/** Imports `@ballast/core/vault` (the package references itself) in a child Node with extra conditions. */
async function importVault(conditions: string[]): Promise<string> {
  const script = `
    try {
      const vault = await import('@ballast/core/vault');
      console.log('loaded:' + typeof vault.createVault);
    } catch (error) {
      console.log('threw:' + error.name + ':' + error.code + ':' + error.message);
    }`;
  const args = [...conditions.map((c) => `--conditions=${c}`), '--import', 'tsx', '--input-type=module', '-e', script];
  const { stdout } = await run(process.execPath, args, { cwd: packageDir });
  return stdout.trim();
}

describe('server-only entry', () => {
  it('fails with a clear typed error under the browser condition', async () => {
    const out = await importVault(['browser', '@ballast/source']);
    expect(out).toMatch(/^threw:VaultError:browser_unsupported:\[@ballast\/core\] \[vault\] .*server-only/);
  });

  it('loads on Node, and on workers (which also set the browser condition)', async () => {
    expect(await importVault(['@ballast/source'])).toBe('loaded:function');
    expect(await importVault(['worker', 'browser', '@ballast/source'])).toBe('loaded:function');
  });
});

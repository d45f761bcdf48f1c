import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The Deno executable shipped by the npm `deno` package's platform package, resolved directly so
 * that no install script has to have run (pnpm does not run the `deno` package's postinstall here).
 */
export function denoExecutable(): string {
  const requireFromDeno = createRequire(createRequire(import.meta.url).resolve('deno/package.json'));
  const libc = process.platform === 'linux' ? '-glibc' : '';
  const platformPackage = `@deno/${process.platform}-${process.arch}${libc}`;
  const executable = process.platform === 'win32' ? 'deno.exe' : 'deno';
  return join(dirname(requireFromDeno.resolve(`${platformPackage}/package.json`)), executable);
}

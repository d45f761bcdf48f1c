import { readFileSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

type Target = string | { [condition: string]: Target };
interface PackageJson {
  exports?: Record<string, Target>;
  imports?: Record<string, Target>;
}

const SOURCE = /^\.\/src\/(.+)\.ts$/;

/** Adds every `./src/<path>.ts` string found under `target` as the entry `<path>`. */
function collectSources(target: Target, entries: Record<string, string>, onlyCondition?: string): void {
  if (typeof target === 'string') {
    if (onlyCondition) return;
    const match = SOURCE.exec(target);
    if (match?.[1]) entries[match[1]] = target;
    return;
  }
  for (const [condition, value] of Object.entries(target)) {
    if (onlyCondition && condition === onlyCondition && typeof value === 'string') {
      const match = SOURCE.exec(value);
      if (!match?.[1]) throw new Error(`source export ${value} is not ./src/<path>.ts`);
      entries[match[1]] = value;
    } else {
      collectSources(value, entries, onlyCondition);
    }
  }
}

/**
 * The build of every Ballast package, derived from its package.json so that
 * the `exports` and `imports` maps are the one place that lists entry points:
 * - each `@ballast/source` export target `./src/<path>.ts` becomes the entry
 *   `<path>` (built to `./dist/<path>.js` and `.cjs`);
 * - subpath imports (`#crypto`, ...) choose a module by export condition at
 *   run time, so they stay external and each of their `./src/*.ts` targets is
 *   built as an entry of its own.
 */
export function ballastTsupConfig(packageJsonUrl: URL): Options {
  const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as PackageJson;
  const entry: Record<string, string> = {};
  for (const target of Object.values(pkg.exports ?? {})) collectSources(target, entry, '@ballast/source');
  for (const target of Object.values(pkg.imports ?? {})) collectSources(target, entry);
  return defineConfig({
    entry,
    external: Object.keys(pkg.imports ?? {}),
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    // maps without the sources in them: stack traces still point at src/ lines,
    // and the tarball does not carry the TypeScript a second time (decision 0003)
    sourcemap: true,
    esbuildOptions(options) {
      options.sourcesContent = false;
    },
    target: 'node22',
    splitting: true,
    treeshake: true,
  }) as Options;
}

import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { entriesFromExports } from '../../scripts/tsup-entries.ts';

const packageJson = new URL('./package.json', import.meta.url);

/**
 * Subpath imports (`#crypto`, ...) pick a module by export condition at run time, so they stay
 * external and each of their source targets `./src/<path>.ts` is built as its own entry `<path>`.
 */
const imports: Record<string, unknown> = JSON.parse(readFileSync(packageJson, 'utf8')).imports ?? {};
const importEntries: Record<string, string> = {};
const collect = (target: unknown): void => {
  if (typeof target === 'string') {
    const match = /^\.\/src\/(.+)\.ts$/.exec(target);
    if (match?.[1]) importEntries[match[1]] = target;
  } else if (typeof target === 'object' && target !== null) {
    for (const value of Object.values(target)) collect(value);
  }
};
for (const target of Object.values(imports)) collect(target);

export default defineConfig({
  entry: { ...entriesFromExports(packageJson), ...importEntries },
  external: Object.keys(imports),
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
  splitting: true,
  treeshake: true,
});

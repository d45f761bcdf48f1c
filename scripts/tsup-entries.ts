import { readFileSync } from 'node:fs';

type ExportTarget = string | { [condition: string]: ExportTarget };

/**
 * Derives tsup entries from a package's `exports` map, so the map is the one
 * place that lists the entry points: every `@ballast/source` target
 * `./src/<path>.ts` becomes the entry `<path>` (built to `./dist/<path>.js`).
 */
export function entriesFromExports(packageJson: URL): Record<string, string> {
  const pkg = JSON.parse(readFileSync(packageJson, 'utf8')) as { exports?: Record<string, ExportTarget> };
  const entries: Record<string, string> = {};
  const visit = (target: ExportTarget): void => {
    if (typeof target === 'string') return;
    for (const [condition, value] of Object.entries(target)) {
      if (condition === '@ballast/source' && typeof value === 'string') {
        const match = /^\.\/src\/(.+)\.ts$/.exec(value);
        if (!match?.[1]) throw new Error(`source export ${value} is not ./src/<path>.ts`);
        entries[match[1]] = value;
      } else {
        visit(value);
      }
    }
  };
  for (const target of Object.values(pkg.exports ?? {})) visit(target);
  return entries;
}

import { readdirSync } from 'node:fs';

/**
 * `pnpm bench <suite>`: runs `suites/<suite>.ts`, which measures its rows and
 * writes `bench/results/<suite>.json`. With no argument, lists the suites.
 */
const suites = readdirSync(new URL('./suites/', import.meta.url))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv[2];
if (!wanted || !suites.includes(wanted)) {
  console.error(wanted ? `unknown suite "${wanted}".` : 'usage: pnpm bench <suite>');
  console.error(`suites: ${suites.join(', ') || '(none yet)'}`);
  process.exit(wanted ? 1 : 0);
}
await import(`./suites/${wanted}.ts`);

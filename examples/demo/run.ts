import { readdirSync } from 'node:fs';
import { createPGlite } from '@ballast/core/stores/pglite';
import type { SqlClient } from '@ballast/core/stores/sql';
import { createReport, type Report } from './report';

/**
 * `pnpm demo`: runs every scenario in `scenarios/` in file-name order against
 * local fake providers on embedded defaults (PGlite, in-process queues), and
 * prints one report. Exits 1 if any scenario's checks failed or it crashed.
 *
 * `pnpm demo <name>` runs only the scenarios whose file name contains <name>.
 */
export interface Scenario {
  title: string;
  run(report: Report, context: ScenarioContext): Promise<void>;
}

/** What the runner hands every scenario. */
export interface ScenarioContext {
  /**
   * The demo's PGlite, created on first use and closed by the runner (one
   * instance instead of one per scenario saves about a second each). A
   * scenario keeps to its own tables, or its own schema where another
   * scenario uses the same Ballast module.
   */
  db(): Promise<SqlClient>;
}

const filter = process.argv[2];
const dir = new URL('./scenarios/', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .filter((f) => !filter || f.includes(filter))
  .sort();

const report = createReport();
let shared: Promise<SqlClient> | undefined;
const context: ScenarioContext = { db: () => (shared ??= createPGlite()) };
const started = performance.now();
console.log('Ballast demo: integrations against misbehaving local fake providers');
for (const file of files) {
  const scenario = (await import(new URL(file, dir).href)).default as Scenario;
  report.section(scenario.title);
  try {
    await scenario.run(report, context);
  } catch (error) {
    report.fail(`scenario crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}
await (await shared)?.close();
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\n${files.length} scenarios in ${seconds} s, ${report.failures === 0 ? 'all checks held' : `${report.failures} checks FAILED`}`,
);
process.exit(report.failures === 0 ? 0 : 1);

/**
 * `pnpm typecheck` runs this after tsc: every ```ts block of docs/*.md must compile under the
 * repository's strict options (see doc-snippets.ts for the setup comment and the nocheck opt-out).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSnippets, extractSnippets } from './doc-snippets.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const docs = readdirSync(join(root, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => join('docs', name));
const snippets = docs.flatMap((file) => extractSnippets(readFileSync(join(root, file), 'utf8'), file));
// placed in examples/, whose dependencies are the workspace packages the docs import
const problems = checkSnippets(snippets, join(root, 'tsconfig.json'), join(root, 'examples'));
for (const problem of problems) console.error(`${problem.file}:${problem.line}: ${problem.message}`);
const skipped = snippets.filter((snippet) => !snippet.check).length;
const checked = snippets.length - skipped;
if (problems.length > 0) {
  console.error(`doc snippets: ${problems.length} error(s) in ${checked} checked blocks`);
  process.exit(1);
}
console.log(`doc snippets: ${checked} blocks of ${docs.length} docs compile (${skipped} marked nocheck)`);

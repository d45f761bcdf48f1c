#!/usr/bin/env node
// Keeps each package's `publishConfig.exports` / `publishConfig.imports` equal
// to its `exports` / `imports` without the workspace-only `@ballast/source`
// condition (it points at ./src, which is not in the tarball). pnpm replaces
// the top-level fields with these when it packs or publishes.
//
//   node scripts/publish-manifest.mjs          check: exit 1 when a package is out of date
//   node scripts/publish-manifest.mjs --write  rewrite the packages' publishConfig
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE_CONDITION = '@ballast/source';
const root = new URL('..', import.meta.url).pathname;
const write = process.argv.includes('--write');

/** A conditional target without the source condition (a new object). */
function strip(target) {
  if (typeof target !== 'object' || target === null) return target;
  const out = {};
  for (const [key, value] of Object.entries(target)) {
    if (key !== SOURCE_CONDITION) out[key] = strip(value);
  }
  return out;
}

let stale = 0;
for (const dir of readdirSync(join(root, 'packages'))) {
  const file = join(root, 'packages', dir, 'package.json');
  const text = readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  if (pkg.private) continue;
  const publishConfig = { ...pkg.publishConfig, access: 'public' };
  for (const field of ['exports', 'imports']) {
    if (pkg[field] === undefined) delete publishConfig[field];
    else publishConfig[field] = strip(pkg[field]);
  }
  const next = `${JSON.stringify({ ...pkg, publishConfig }, null, 2)}\n`;
  if (next === text) continue;
  if (write) {
    writeFileSync(file, next);
    console.log(`updated ${file}`);
  } else {
    console.error(`${file}: publishConfig is out of date (run: node scripts/publish-manifest.mjs --write)`);
    stale++;
  }
}
process.exit(stale === 0 ? 0 : 1);

import { mkdirSync, readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles a bench child (a server or a worker process) into
 * `bench/.cache/<name>.mjs` for plain Node, with the workspace packages
 * compiled from their sources. An app runs
 * the built packages: under the tsx loader a child would also carry the
 * loader's thread and transpiler (about 40 MiB of RSS) and its keep-names
 * wrappers (a call on every function created), which are not the library's.
 */
export async function bundled(entry: URL): Promise<string> {
  const source = fileURLToPath(entry);
  // read here, not at import: a bundled child imports this module too, from another folder
  const manifest = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const benchDependencies = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).filter(
    (name) => !name.startsWith('@ballast/') && !name.startsWith('@types/'),
  );
  const dir = fileURLToPath(new URL('./.cache/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const outfile = `${dir}${basename(source, extname(source))}.mjs`;
  await build({
    entryPoints: [source],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    conditions: ['@ballast/source'],
    // the bench's own dependencies are left to Node (resolved from bench/node_modules: PGlite finds its WASM, pg
    // its optional parts); the workspace packages and what they depend on are bundled
    external: [...benchDependencies, 'pg-native', 'pg-cloudflare'],
    // node-postgres is CommonJS: a require() for the CommonJS parts bundled into this ES module
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
}

#!/usr/bin/env node
// The release rehearsal: publish every package to a local registry, then use
// them from outside the workspace the way a new user would. Each check prints
// one line; the last line is "rehearsal: N passed, M failed" and the exit code
// is non-zero when anything failed. Run by .ci/run after the tests:
//
//   node release/rehearse.mjs            (needs `pnpm build` done and `npm ci --prefix release`)
//
// What it proves: the published manifests name only files that are in the
// tarballs; an ESM and a CommonJS app work from the registry (a verified Stripe
// webhook into a PGlite inbox, a resilientFetch call to a local server, the core
// README's quick start as written); a driver whose optional peer is missing
// says which package to install; typed uses of every entry compile under
// node16, nodenext and bundler with the oldest and the newest TypeScript
// supported; Deno imports `npm:@ballast/core/...` from the registry without a
// node_modules folder; Bun and workerd run the runtime-neutral entries; a
// function bundled the way Netlify bundles works with `pg` kept external;
// the Netlify example's functions, copied into a fresh app that installs
// @ballast/core and pg from the registry, answer signed deliveries and drain
// them once when served by Netlify's own emulation (@netlify/functions-dev);
// and every entry and tarball stays within its size budget.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const tools = join(here, 'node_modules');
const fixtures = join(here, 'fixtures');
const budget = JSON.parse(readFileSync(join(here, 'size-budget.json'), 'utf8'));
const keep = process.argv.includes('--keep');

const results = [];
async function check(name, fn) {
  const started = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true });
    console.log(`  ✓ ${name}${detail ? ` (${detail})` : ''} [${Date.now() - started} ms]`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`  ✗ ${name} [${Date.now() - started} ms]`);
    console.log(String(error?.stack ?? error).replace(/^/gm, '      '));
  }
}

function run(command, args, options = {}) {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
      ...options,
      env: { ...process.env, ...options.env },
    });
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** GET a JSON document, retrying once a closed keep-alive socket or a transient error. */
async function getJson(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, { headers: { connection: 'close' } });
      if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
      return await res.json();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

async function waitFor(url, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const workspacePackages = ['core', 'stripe', 'pipedrive', 'google-maps'].map((dir) => {
  const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  return { dir, name: pkg.name, version: pkg.version, pkg };
});
const corePkg = workspacePackages.find((p) => p.name === '@ballast/core');

const work = mkdtempSync(join(tmpdir(), 'ballast-rehearsal-'));
const children = [];
function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  if (!keep) rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);

console.log(`release rehearsal in ${work}`);

// ---------------------------------------------------------------- registry
const upstream = run('npm', ['config', 'get', 'registry']).trim();
const port = await freePort();
const registry = `http://127.0.0.1:${port}/`;
mkdirSync(join(work, 'registry'));
writeFileSync(
  join(work, 'registry', 'config.yaml'),
  `storage: ${join(work, 'registry', 'storage')}
auth:
  htpasswd:
    file: ${join(work, 'registry', 'htpasswd')}
    max_users: 10
uplinks:
  upstream:
    url: ${upstream}
    timeout: 60s
packages:
  '@ballast/*':
    access: $all
    publish: $authenticated
  '**':
    access: $all
    publish: $authenticated
    proxy: upstream
log: { type: stdout, format: pretty, level: error }
`,
);
const verdaccio = spawn(
  process.execPath,
  [
    join(tools, 'verdaccio', 'bin', 'verdaccio'),
    '--config',
    join(work, 'registry', 'config.yaml'),
    '--listen',
    `127.0.0.1:${port}`,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
children.push(verdaccio);
await waitFor(`${registry}-/ping`);

// a user to publish as; npm clients read the token from this npmrc
const user = await fetch(`${registry}-/user/org.couchdb.user:rehearsal`, {
  method: 'PUT',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'rehearsal', password: 'rehearsal-password', email: 'rehearsal@example.test' }),
}).then((r) => r.json());
const npmrc = join(work, 'npmrc');
writeFileSync(npmrc, `registry=${registry}\n//127.0.0.1:${port}/:_authToken=${user.token}\n`);
const npmEnv = { NPM_CONFIG_USERCONFIG: npmrc, NPM_CONFIG_REGISTRY: registry, npm_config_registry: registry };

await check('publish every package to the local registry with pnpm', () => {
  for (const p of workspacePackages) {
    run('pnpm', ['publish', '--no-git-checks', '--registry', registry], {
      cwd: join(root, 'packages', p.dir),
      env: npmEnv,
    });
  }
  return workspacePackages.map((p) => `${p.name}@${p.version}`).join(', ');
});

// ---------------------------------------------------------------- manifests
const packuments = {};
for (const p of workspacePackages) {
  packuments[p.name] = await getJson(`${registry}${p.name.replace('/', '%2f')}`);
}

await check('published manifests carry no workspace-only condition and no workspace: ranges', () => {
  for (const p of workspacePackages) {
    const manifest = packuments[p.name].versions?.[p.version];
    if (!manifest) throw new Error(`${p.name}@${p.version} is not in the registry`);
    const text = JSON.stringify(manifest);
    if (text.includes('@ballast/source')) throw new Error(`${p.name}: the @ballast/source condition was published`);
    if (text.includes('workspace:')) throw new Error(`${p.name}: a workspace: range was published`);
  }
});

// ---------------------------------------------------------------- apps
function app(name, pkg) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, ...pkg }, null, 2));
  return dir;
}
function npmInstall(dir, ...specs) {
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...specs], { cwd: dir, env: npmEnv });
}
function copyFixture(file, dir, as = file) {
  writeFileSync(join(dir, as), readFileSync(join(fixtures, file)));
}
const v = (name) => workspacePackages.find((p) => p.name === name).version;

const esm = app('esm-app', { type: 'module' });
await check('an ESM app installs the four packages and PGlite from the registry', () => {
  npmInstall(
    esm,
    `@ballast/core@${v('@ballast/core')}`,
    `@ballast/stripe@${v('@ballast/stripe')}`,
    `@ballast/pipedrive@${v('@ballast/pipedrive')}`,
    `@ballast/google-maps@${v('@ballast/google-maps')}`,
    '@electric-sql/pglite',
  );
});

await check('every export target of the published manifests is a file in the installed package', () => {
  let count = 0;
  for (const p of workspacePackages) {
    const installed = join(esm, 'node_modules', p.name);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    const targets = [];
    const collect = (t) => (typeof t === 'string' ? targets.push(t) : t && Object.values(t).forEach(collect));
    collect(manifest.exports);
    collect(manifest.imports);
    for (const t of targets) {
      readFileSync(join(installed, t));
      count++;
    }
  }
  return `${count} targets`;
});

const stripeSecret = 'whsec_rehearsal';
function stripeDelivery() {
  const body = JSON.stringify({
    id: 'evt_rehearsal_1',
    object: 'event',
    type: 'invoice.paid',
    data: { object: { id: 'in_1' } },
  });
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', stripeSecret).update(`${t}.${body}`).digest('hex');
  return { body, signature: `t=${t},v1=${v1}` };
}
/** A delivery signed now (the replay window is five minutes), as the smoke scripts read it. */
function smokeEnv() {
  const delivery = stripeDelivery();
  return { STRIPE_BODY: delivery.body, STRIPE_SIGNATURE: delivery.signature, STRIPE_SECRET: stripeSecret };
}

await check(
  'ESM app: verify a Stripe webhook, ingest it into PGlite, process it, resilientFetch a local server',
  () => {
    copyFixture('smoke.mjs', esm);
    return run(process.execPath, ['smoke.mjs'], { cwd: esm, env: smokeEnv() }).trim();
  },
);

await check("ESM app: the core README's quick start, as written, answers a signed delivery", async () => {
  const readme = readFileSync(join(esm, 'node_modules', '@ballast', 'core', 'README.md'), 'utf8');
  const block = /## Quick start\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('the README has no quick start block');
  // what the snippet leaves to the reader: its config and its own function
  const preamble = `const config = { stripeWebhookSecret: ${JSON.stringify(stripeSecret)} };\nconst fulfil = async () => {};\n`;
  writeFileSync(join(esm, 'quick-start.mjs'), preamble + block);
  const delivery = stripeDelivery();
  const server = spawn(process.execPath, ['quick-start.mjs'], { cwd: esm, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(server);
  let output = '';
  server.stdout.on('data', (d) => (output += d));
  server.stderr.on('data', (d) => (output += d));
  try {
    const port = /listen\((\d+)\)/.exec(block)?.[1] ?? '3000';
    const until = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': delivery.signature },
        body: delivery.body,
      }).catch(() => undefined);
      if (res) {
        if (res.status !== 200) throw new Error(`answered ${res.status}: ${await res.text()}`);
        return `200 on port ${port}`;
      }
      if (server.exitCode !== null || Date.now() > until) throw new Error(`the quick start did not listen:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    server.kill('SIGKILL');
  }
});

await check('ESM app: createPostgres without pg installed rejects with missing_dependency naming the package', () => {
  copyFixture('missing-peer.mjs', esm);
  return run(process.execPath, ['missing-peer.mjs'], { cwd: esm }).trim();
});

const cjs = app('cjs-app', { type: 'commonjs' });
await check('a CommonJS app: the same smoke through require()', () => {
  npmInstall(
    cjs,
    `@ballast/core@${v('@ballast/core')}`,
    `@ballast/stripe@${v('@ballast/stripe')}`,
    '@electric-sql/pglite',
  );
  copyFixture('smoke.cjs', cjs);
  return run(process.execPath, ['smoke.cjs'], { cwd: cjs, env: smokeEnv() }).trim();
});

// ---------------------------------------------------------------- types
const typesApp = app('types-app', { type: 'module' });
const compilers = [
  ['oldest', join(tools, 'typescript-oldest', 'bin', 'tsc')],
  ['newest', join(tools, 'typescript-newest', 'bin', 'tsc')],
];
const resolutions = [
  { module: 'node16', moduleResolution: 'node16' },
  { module: 'nodenext', moduleResolution: 'nodenext' },
  { module: 'esnext', moduleResolution: 'bundler' },
];
function compile(dir, files, tsc, resolution) {
  const config = {
    compilerOptions: {
      ...resolution,
      target: 'es2022',
      lib: ['es2023', 'dom'],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      types: ['node'],
    },
    files,
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
  try {
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
  } catch (error) {
    // Declarations are checked (skipLibCheck off) so that an error in Ballast's own
    // .d.ts files fails; errors inside other packages' declarations (PGlite's
    // Emscripten types, ioredis's untyped redis-errors) are theirs, not ours.
    const lines = String(error.message)
      .split('\n')
      .filter((line) => /\(\d+,\d+\): error TS/.test(line));
    const ours = lines.filter((line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/@ballast/'));
    if (ours.length > 0 || lines.length === 0) throw error;
  }
}
await check('a typed app installs the packages and the types of the peers it uses (not msw)', () => {
  npmInstall(
    typesApp,
    `@ballast/core@${v('@ballast/core')}`,
    `@ballast/stripe@${v('@ballast/stripe')}`,
    `@ballast/pipedrive@${v('@ballast/pipedrive')}`,
    `@ballast/google-maps@${v('@ballast/google-maps')}`,
    '@types/node@22',
    '@types/pg',
    '@electric-sql/pglite',
    'ioredis',
    'postgres',
    'zod',
  );
  copyFixture('typed-uses.ts', typesApp);
  // the README tour, kept compiling in the workspace, compiled here against the published types
  writeFileSync(join(typesApp, 'tour.ts'), readFileSync(join(root, 'examples', 'readme', 'tour.ts')));
  copyFixture('typed-msw.ts', typesApp);
});
for (const [label, tsc] of compilers) {
  const version = run(process.execPath, [tsc, '--version']).trim();
  for (const resolution of resolutions) {
    await check(`tsc --strict (${version}, ${resolution.moduleResolution}): typed uses of every entry`, () =>
      compile(typesApp, ['tour.ts', 'typed-uses.ts'], tsc, resolution),
    );
  }
  if (label === 'newest') {
    await check(`tsc --strict (${version}): @ballast/stripe/testing/msw once msw is installed`, () => {
      npmInstall(typesApp, 'msw');
      compile(typesApp, ['typed-msw.ts'], tsc, resolutions[1]);
    });
  }
}

// ---------------------------------------------------------------- other runtimes
await check('Deno imports npm:@ballast/core/... from the registry, with no node_modules', () => {
  const dir = join(work, 'deno-app');
  mkdirSync(dir);
  copyFixture('deno-smoke.ts', dir);
  const deno = join(root, 'node_modules', '.bin', 'deno');
  const out = run(
    deno,
    [
      'run',
      '--no-config',
      '--minimum-dependency-age=0',
      '--allow-env',
      '--allow-read',
      '--allow-net=127.0.0.1',
      'deno-smoke.ts',
    ],
    {
      cwd: dir,
      env: {
        NPM_CONFIG_REGISTRY: registry,
        DENO_DIR: join(work, 'deno-dir'),
        DENO_NO_UPDATE_CHECK: '1',
        BALLAST_VERSION: corePkg.version,
      },
    },
  ).trim();
  if (readdirSync(dir).includes('node_modules')) throw new Error('Deno created a node_modules folder');
  return out;
});

await check('Bun runs the ESM smoke from the installed packages', () => {
  const bun = join(tools, '@oven', 'bun-linux-x64', 'bin', 'bun');
  return run(bun, ['smoke.mjs'], { cwd: esm, env: smokeEnv() }).trim();
});

await check('workerd runs webhooks, vault and resilientFetch bundled for Workers', async () => {
  copyFixture('worker.mjs', esm);
  const { build } = await import(join(tools, 'esbuild', 'lib', 'main.js'));
  await build({
    entryPoints: [join(esm, 'worker.mjs')],
    outfile: join(esm, 'worker.bundle.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    // Node's built-ins come from the runtime (nodejs_compat), as wrangler leaves them
    external: ['node:*', 'events'],
    logLevel: 'error',
  });
  const workerPort = await freePort();
  writeFileSync(
    join(esm, 'workerd.capnp'),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:${workerPort}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker", esModule = embed "worker.bundle.js")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["nodejs_compat"],
);
`,
  );
  const workerd = spawn(join(tools, '@cloudflare', 'workerd-linux-64', 'bin', 'workerd'), ['serve', 'workerd.capnp'], {
    cwd: esm,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(workerd);
  let output = '';
  workerd.stderr.on('data', (d) => (output += d));
  try {
    await waitFor(`http://127.0.0.1:${workerPort}/health`, 30_000).catch((e) => {
      throw new Error(`${e.message}\n${output}`);
    });
    const res = await fetch(`http://127.0.0.1:${workerPort}/`);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`worker answered ${res.status}: ${text}\n${output}`);
    return text.trim();
  } finally {
    workerd.kill('SIGKILL');
  }
});

await check('a function bundled as Netlify bundles it (esbuild, pg kept external) loads and runs', async () => {
  copyFixture('netlify-function.mjs', esm);
  npmInstall(esm, 'pg');
  const { build } = await import(join(tools, 'esbuild', 'lib', 'main.js'));
  await build({
    entryPoints: [join(esm, 'netlify-function.mjs')],
    outfile: join(esm, 'bundled', 'function.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: ['pg', 'pg-native', '@electric-sql/pglite'],
    logLevel: 'error',
  });
  return run(process.execPath, [join('bundled', 'function.mjs')], { cwd: esm }).trim();
});

await check(
  "examples/netlify copied into a fresh app, @ballast/core and pg from the registry, served by Netlify's emulation",
  async () => {
    // the runner and @netlify/functions-dev come from the workspace (examples); the functions'
    // own imports resolve from the fresh app, as on a user's machine
    const serverUrl = process.env.DATABASE_URL;
    if (!serverUrl) throw new Error('DATABASE_URL is not set: the Netlify example stores its events in Postgres');
    // a database of its own: the drain takes every due event of the `ballast` schema
    const database = `rehearsal_netlify_${process.pid}`;
    run('psql', [serverUrl, '-qc', `DROP DATABASE IF EXISTS ${database}`]);
    run('psql', [serverUrl, '-qc', `CREATE DATABASE ${database}`]);
    const own = new URL(serverUrl);
    own.pathname = `/${database}`;
    const databaseUrl = own.toString();
    const site = app('netlify-app', { type: 'module' });
    cpSync(join(root, 'examples', 'netlify', 'netlify'), join(site, 'netlify'), { recursive: true });
    cpSync(join(root, 'examples', 'netlify', 'netlify.toml'), join(site, 'netlify.toml'));
    npmInstall(site, `@ballast/core@${v('@ballast/core')}`, 'pg');
    run('psql', [
      databaseUrl,
      '-qc',
      'CREATE TABLE public.paid_invoices (invoice_id text PRIMARY KEY, event_id text NOT NULL)',
    ]);
    const secret = 'whsec_rehearsal';
    const emulator = spawn(
      process.execPath,
      [
        join(root, 'examples', 'netlify', 'testdata', 'netlify-dev.mjs'),
        site,
        join(site, '.netlify', 'functions-serve'),
      ],
      {
        env: { ...process.env, BALLAST_DB_URL: databaseUrl, STRIPE_WEBHOOK_SECRET: secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(emulator);
    try {
      let output = '';
      const emulatorPort = await new Promise((resolve, reject) => {
        emulator.stdout.on('data', (chunk) => {
          output += chunk;
          const found = /\{"port":(\d+)\}/.exec(output);
          if (found) resolve(Number(found[1]));
        });
        emulator.stderr.on('data', (chunk) => {
          output += chunk;
        });
        emulator.once('exit', (code) => reject(new Error(`the emulator exited (${code}):\n${output}`)));
      });
      const base = `http://127.0.0.1:${emulatorPort}`;
      const id = `evt_rehearsal_${Date.now()}`;
      const body = JSON.stringify({ id, object: 'event', type: 'invoice.paid', data: { object: { id: `in_${id}` } } });
      const timestamp = Math.floor(Date.now() / 1000);
      const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
      const headers = { 'stripe-signature': `t=${timestamp},v1=${signature}`, 'content-type': 'application/json' };
      const post = async (path, init) => {
        const res = await fetch(`${base}${path}`, { method: 'POST', ...init });
        return { status: res.status, body: await res.text() };
      };
      const statuses = [
        (await post('/webhooks/stripe', { headers, body })).status,
        (await post('/webhooks/stripe', { headers, body })).status,
        (await post('/webhooks/stripe', { body })).status,
      ];
      if (statuses.join() !== '200,200,401')
        throw new Error(`webhook answered ${statuses.join()}, expected 200,200,401`);
      let claimed = 0;
      for (let i = 0; i < 5 && claimed === 0; i++) {
        const tick = await post('/.netlify/functions/drain', {
          headers: { 'x-nf-request-id': `tick-${i}` },
          body: '{}',
        });
        if (tick.status !== 200) throw new Error(`drain answered ${tick.status}: ${tick.body}`);
        claimed += JSON.parse(tick.body).claimed;
      }
      const stored = run('psql', [
        databaseUrl,
        '-Atc',
        `SELECT count(*) FROM public.paid_invoices WHERE invoice_id = 'in_${id}'`,
      ]).trim();
      if (claimed !== 1 || stored !== '1')
        throw new Error(`drain claimed ${claimed}, paid_invoices has ${stored} row(s)`);
      return 'signed 200, duplicate 200, unsigned 401, drained once';
    } finally {
      emulator.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
      run('psql', [serverUrl, '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
    }
  },
);

// ---------------------------------------------------------------- size
/**
 * Each entry bundled and minified from the published files, built once for the checks below. What a
 * user installs beside the package is not part of it: every dependency and peer stays an import, which
 * the metafile names.
 */
const bundles = new Map();
async function bundledEntry(specifier) {
  if (!bundles.has(specifier)) {
    const { build } = await import(join(tools, 'esbuild', 'lib', 'main.js'));
    const external = ['pg-native'];
    for (const p of workspacePackages) {
      const manifest = packuments[p.name].versions[p.version];
      for (const name of Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })) {
        if (!name.startsWith('@ballast/')) external.push(name);
      }
    }
    bundles.set(
      specifier,
      build({
        stdin: { contents: `export * from '${specifier}';`, resolveDir: esm },
        bundle: true,
        minify: true,
        write: false,
        metafile: true,
        format: 'esm',
        platform: 'node',
        external,
        logLevel: 'error',
      }),
    );
  }
  return bundles.get(specifier);
}

await check('each entry, bundled and minified from the published files, stays within its budget', async () => {
  const over = [];
  const rows = [];
  for (const [specifier, limitKb] of Object.entries(budget.entries)) {
    const bytes = (await bundledEntry(specifier)).outputFiles[0].contents;
    const kb = bytes.length / 1024;
    rows.push(`${specifier} ${kb.toFixed(1)} KB (${(gzipSync(bytes).length / 1024).toFixed(1)} gz)`);
    if (kb > limitKb) over.push(`${specifier}: ${kb.toFixed(1)} KB > budget ${limitKb} KB`);
  }
  console.log(rows.map((r) => `      ${r}`).join('\n'));
  if (over.length) throw new Error(over.join('\n'));
});

// Entries whose module graph stays in the heap of every process that uses them: they load no schema
// library (decision 1300). A retained megabyte raises a sync's peak RSS by about three.
await check('the sync, inbox, webhooks, resilience and idempotency entries import no zod', async () => {
  const lean = [
    '@ballast/core/sync',
    '@ballast/core/inbox',
    '@ballast/core/webhooks',
    '@ballast/core/resilience',
    '@ballast/core/idempotency',
  ];
  const offenders = [];
  for (const specifier of lean) {
    const { metafile } = await bundledEntry(specifier);
    const imports = Object.values(metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
    if (imports.some((path) => path === 'zod' || path.startsWith('zod/'))) offenders.push(specifier);
  }
  if (offenders.length) throw new Error(`these entries import zod at run time: ${offenders.join(', ')}`);
});

await check('each tarball stays within its budget (packed and unpacked)', async () => {
  const over = [];
  const rows = [];
  for (const p of workspacePackages) {
    const tarball = join(work, `${p.dir}.tgz`);
    writeFileSync(
      tarball,
      Buffer.from(await (await fetch(packuments[p.name].versions[p.version].dist.tarball)).arrayBuffer()),
    );
    const packedKb = statSync(tarball).size / 1024;
    const listing = run('tar', ['tzvf', tarball]).trim().split('\n');
    const unpackedKb = listing.reduce((sum, line) => sum + Number(line.split(/\s+/)[2] ?? 0), 0) / 1024;
    const limit = budget.tarballs[p.name];
    rows.push(`${p.name} ${packedKb.toFixed(0)} KB packed, ${unpackedKb.toFixed(0)} KB unpacked`);
    if (!limit) over.push(`${p.name} has no tarball budget`);
    else if (packedKb > limit.packedKb || unpackedKb > limit.unpackedKb) {
      over.push(
        `${p.name}: ${packedKb.toFixed(0)}/${unpackedKb.toFixed(0)} KB > ${limit.packedKb}/${limit.unpackedKb} KB`,
      );
    }
  }
  console.log(rows.map((r) => `      ${r}`).join('\n'));
  if (over.length) throw new Error(over.join('\n'));
});

const failed = results.filter((r) => !r.ok).length;
console.log(`rehearsal: ${results.length - failed} passed, ${failed} failed`);
writeFileSync(
  join(here, 'last-run.json'),
  JSON.stringify({ passed: results.length - failed, failed, results }, null, 2),
);
process.exit(failed === 0 ? 0 : 1);

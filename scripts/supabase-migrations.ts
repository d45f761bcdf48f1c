/**
 * Writes Ballast's migrations as Supabase CLI migration files
 * (examples/supabase/supabase/migrations/<YYYYMMDDHHMMSS>_ballast_<module>_v<version>.sql),
 * from the same definitions `migrate()` applies.
 *
 *   node --import tsx scripts/supabase-migrations.ts           check: exit 1 when a file is missing or differs
 *   node --import tsx scripts/supabase-migrations.ts --write   write missing files, rewrite stale ones
 *
 * A migration keeps the timestamp of its first file forever (the Supabase CLI
 * refuses files older than what a project already applied); a new migration
 * gets a timestamp after every existing file.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationFiles } from '../packages/core/src/stores/migrate.ts';

export const MIGRATIONS_DIR = new URL('../examples/supabase/supabase/migrations/', import.meta.url).pathname;
const FILE = /^(\d{14})_ballast_([a-z_]+)_v(\d+)\.sql$/;

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The files there should be: name and content. */
export function expectedFiles(existing: readonly string[], now = new Date()): Array<{ file: string; sql: string }> {
  const stamps = new Map<string, string>();
  let latest = '00000000000000';
  for (const file of existing) {
    const m = FILE.exec(file);
    if (!m?.[1]) continue;
    stamps.set(`${m[2]}@${m[3]}`, m[1]);
    if (m[1] > latest) latest = m[1];
  }
  let next = stamp(now) > latest ? stamp(now) : String(BigInt(latest) + 1n);
  return migrationFiles({ schema: 'ballast' }).map((f) => {
    let ts = stamps.get(f.id);
    if (ts === undefined) {
      ts = next;
      next = String(BigInt(next) + 1n);
    }
    return { file: `${ts}_ballast_${f.module}_v${f.version}.sql`, sql: f.sql };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(MIGRATIONS_DIR, { recursive: true });
  const existing = readdirSync(MIGRATIONS_DIR);
  const write = process.argv.includes('--write');
  let stale = 0;
  for (const { file, sql } of expectedFiles(existing)) {
    const path = join(MIGRATIONS_DIR, file);
    const current = existing.includes(file) ? readFileSync(path, 'utf8') : undefined;
    if (current === sql) continue;
    if (write) {
      writeFileSync(path, sql);
      console.log(`wrote ${file}`);
    } else {
      console.error(
        `${file}: ${current === undefined ? 'missing' : 'out of date'} (node --import tsx scripts/supabase-migrations.ts --write)`,
      );
      stale++;
    }
  }
  process.exit(stale === 0 ? 0 : 1);
}

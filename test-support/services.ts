import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';

/**
 * Access to the real services some tests need (Postgres, Redis).
 *
 * Locally, a missing `DATABASE_URL` / `REDIS_URL` skips those suites with the
 * reason in the suite name. Under CI (`CI=true`, as `.ci/run` sets) a missing
 * variable is an error instead, and `.ci/run` also fails on any skipped test.
 */
type Service = 'DATABASE_URL' | 'REDIS_URL' | 'SUPABASE_VAULT_URL';

function serviceUrl(name: Service): string | undefined {
  const value = process.env[name];
  if (value) return value;
  if (process.env.CI === 'true') {
    throw new Error(`${name} must be set under CI: tests that need it may not be skipped`);
  }
  return undefined;
}

/** The Postgres connection string, or undefined (local runs only) when unset. */
export const databaseUrl = (): string | undefined => serviceUrl('DATABASE_URL');
/** The Redis URL, or undefined (local runs only) when unset. */
export const redisUrl = (): string | undefined => serviceUrl('REDIS_URL');

/** `describe` for suites that need Postgres: skipped, with the reason in its name, without `DATABASE_URL`. */
export function describeWithPostgres(name: string, fn: (url: string) => void): void {
  const url = databaseUrl();
  if (url) describe(`${name} [postgres]`, () => fn(url));
  else describe.skip(`${name} [postgres] (skipped: DATABASE_URL is not set)`, () => fn(''));
}

/** `describe` for suites that need Redis: skipped, with the reason in its name, without `REDIS_URL`. */
export function describeWithRedis(name: string, fn: (url: string) => void): void {
  const url = redisUrl();
  if (url) describe(`${name} [redis]`, () => fn(url));
  else describe.skip(`${name} [redis] (skipped: REDIS_URL is not set)`, () => fn(''));
}

/** The URL of a Postgres with the supabase_vault extension (`shared/services/supabase-vault.sh start`). */
export const supabaseVaultUrl = (): string | undefined => serviceUrl('SUPABASE_VAULT_URL');

/** `describe` for suites that need Supabase Vault: skipped, with the reason in its name, without `SUPABASE_VAULT_URL`. */
export function describeWithSupabaseVault(name: string, fn: (url: string) => void): void {
  const url = supabaseVaultUrl();
  if (url) describe(`${name} [supabase vault]`, () => fn(url));
  else
    describe.skip(`${name} [supabase vault] (skipped: SUPABASE_VAULT_URL is not set; ../shared/services/supabase-vault.sh start prints it)`, () =>
      fn(''));
}

/** A schema name no other test file uses, so suites can share one database. */
export function uniqueSchema(prefix = 'bt'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A Redis key prefix no other test uses. */
export function uniqueKeyPrefix(prefix = 'ballast-test'): string {
  return `${prefix}:${randomBytes(6).toString('hex')}:`;
}

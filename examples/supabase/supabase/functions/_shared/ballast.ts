/**
 * One connection per isolate, opened on first use. BALLAST_DB_URL is the
 * transaction-mode pooler (port 6543) or SUPABASE_DB_URL's direct connection;
 * postgres.js runs with prepare: false, so either works. Names starting with
 * SUPABASE_ are reserved, hence a secret of our own.
 */
import { createPostgresJs } from '@ballast/core/stores/postgresjs';
import { migrate, type SqlClient, sqlInbox } from '@ballast/core/stores/sql';

let db: Promise<SqlClient> | undefined;

export function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set (supabase secrets set ${name}=...)`);
  return value;
}

export function database(): Promise<SqlClient> {
  db ??= (async () => {
    const client = await createPostgresJs(env('BALLAST_DB_URL'), { max: 2, connect_timeout: 5 });
    await migrate(client);
    return client;
  })().catch((error) => {
    db = undefined; // a later request tries again
    throw error;
  });
  return db;
}

export async function inbox() {
  return sqlInbox(await database());
}

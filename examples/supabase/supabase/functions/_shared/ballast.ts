/**
 * One connection per isolate, opened on first use. BALLAST_DB_URL is the
 * transaction-mode pooler (port 6543) or SUPABASE_DB_URL's direct connection;
 * postgres.js runs with prepare: false, so either works. Names starting with
 * SUPABASE_ are reserved, hence a secret of our own.
 */

import type { Inbox } from '@ballast/core/inbox';
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

let box: Inbox | undefined;

/** The isolate's inbox, on its one connection: built once, like the connection. */
export async function inbox(): Promise<Inbox> {
  const db = await database();
  box ??= sqlInbox(db);
  return box;
}

/** The answer while the database cannot be reached: a 503 the provider retries. */
export function storeUnavailable(retryAfterSeconds = 5): Response {
  return Response.json(
    { error: 'store_unavailable' },
    { status: 503, headers: { 'retry-after': String(retryAfterSeconds) } },
  );
}

/**
 * An ingest-only webhook endpoint: `build` makes the handler once the inbox
 * opens; until the database answers, every delivery gets the 503 the provider
 * retries. Processing happens in the drain function, on a schedule.
 */
export function ingestEndpoint(build: (inbox: Inbox) => (request: Request) => Promise<Response>): {
  fetch: (request: Request) => Promise<Response>;
} {
  let handler: ((request: Request) => Promise<Response>) | undefined;
  return {
    async fetch(request) {
      let store: Inbox;
      try {
        store = await inbox();
      } catch {
        return storeUnavailable();
      }
      handler ??= build(store);
      return handler(request);
    },
  };
}

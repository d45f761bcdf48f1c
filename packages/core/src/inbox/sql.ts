import { sqlIdempotencyStore } from '../idempotency/sql-store';
import type { SqlClient } from '../stores/sql';
import { createInbox, type Inbox, type InboxOptions } from './inbox';
import { type SqlInboxDriverOptions, sqlInboxDriver } from './sql-driver';

/** Options for {@link sqlInbox}. */
export interface SqlInboxOptions extends InboxOptions, SqlInboxDriverOptions {}

/**
 * A durable inbox in PGlite or Postgres: the `inbox_events` table created by
 * `migrate(db, { schema })`, unique on `(source, event_id)`. Many processes can
 * share one Postgres inbox. Workers run handlers through `idempotent()` on the
 * SQL idempotency store of the same database and schema (so migrate the
 * `idempotency` module too, as a plain `migrate(db)` does).
 *
 * @example
 * ```ts
 * const db = await createPGlite();
 * await migrate(db);
 * const inbox = sqlInbox(db);
 * ```
 */
export function sqlInbox(db: SqlClient, options: SqlInboxOptions = {}): Inbox {
  const { schema, ...inboxOptions } = options;
  const where = schema === undefined ? {} : { schema };
  return createInbox(sqlInboxDriver(db, where), {
    ...inboxOptions,
    idempotencyStore: inboxOptions.idempotencyStore ?? sqlIdempotencyStore(db, where),
  });
}

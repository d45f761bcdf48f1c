import type { BulkPlan, BulkProgress, BulkUpsertResult } from '@ballast/core/bulk';
import { migrate, type SqlClient, sqlBulkCheckpoints } from '@ballast/core/stores/sql';
import {
  bulkUpsertPersons,
  contactsMapper,
  contactsTableSql,
  type PipedriveClient,
  pipedriveSync,
} from '@ballast/pipedrive';

/** Options of {@link createPipedriveSyncApp}. */
export interface PipedriveSyncAppOptions {
  db: SqlClient;
  client: PipedriveClient;
  /** Schema of Ballast's tables (sync rows, bulk checkpoints). @default 'ballast' */
  schema?: string;
  /** The app's contacts table. @default 'contacts' */
  contactsTable?: string;
}

/**
 * The example app: Pipedrive persons mirrored into sync tables and projected
 * into the app's `contacts` table, and changes pushed back to Pipedrive as a
 * checkpointed bulk job.
 */
export async function createPipedriveSyncApp(options: PipedriveSyncAppOptions) {
  const { db, client } = options;
  const schema = options.schema ?? 'ballast';
  const table = options.contactsTable ?? 'contacts';
  await migrate(db, { schema, modules: ['sync', 'bulk'] });
  await db.exec(contactsTableSql(table));
  const sync = pipedriveSync({ client, db, schema, entities: ['persons'] });
  const persons = sync.tables.persons;
  if (!persons) throw new Error('the persons sync table is missing');
  const contacts = contactsMapper({ table });
  const checkpoints = sqlBulkCheckpoints(db, { schema });

  return {
    /** Reads Pipedrive (full: everything, incremental: what changed) and projects persons into contacts. */
    async pull(mode: 'full' | 'incremental') {
      const runs = await sync.run({ mode });
      const mapped = await contacts.run(persons);
      return { read: runs.persons?.counts.seen ?? 0, written: mapped.written, quarantined: mapped.quarantined };
    },
    /** Contacts in the app's table, oldest Pipedrive id first. */
    async contacts(limit: number): Promise<Array<{ pipedrive_id: number; name: string; email: string | null }>> {
      const res = await db.query<{ pipedrive_id: number; name: string; email: string | null }>(
        `SELECT pipedrive_id, name, email FROM ${table} ORDER BY pipedrive_id LIMIT $1`,
        [limit],
      );
      return res.rows;
    },
    async count(): Promise<number> {
      return Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
    },
    /**
     * Pushes a new name for each contact back to Pipedrive, keyed by email, as
     * one bulk job checkpointed in the database: run the same job again after
     * a crash, or after the daily budget's reset, and it carries on.
     */
    push(
      job: string,
      changes: ReadonlyArray<{ email: string; name: string }>,
      hooks: { onPlan?(plan: BulkPlan): void; onProgress?(progress: BulkProgress): void; signal?: AbortSignal } = {},
    ): Promise<BulkUpsertResult> {
      return bulkUpsertPersons(client, {
        job,
        uniqueField: 'email',
        records: changes.map((c) => ({ key: c.email.toLowerCase(), data: { name: c.name } })),
        checkpoints,
        ...hooks,
      });
    },
    /** The job's summary in the checkpoint store. */
    job: (job: string) => checkpoints.getJob(job),
  };
}

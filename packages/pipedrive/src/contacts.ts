import { quoteIdent, type SqlExecutor } from '@ballast/core/stores/sql';
import { type Mapper, mapper } from '@ballast/core/sync';
import { z } from 'zod';
import { PipedriveWebhookError } from './webhook-errors';

/*
 * An example mapper: Pipedrive persons (raw v2 rows of `pipedriveSync`)
 * projected into an app's `contacts` table. The schema names exactly the
 * fields the projection reads, so a person whose payload no longer has them
 * (Pipedrive renamed `emails`, say) is quarantined with the reason, and the
 * app's row keeps its last good data until the mapper is fixed and its
 * version raised.
 */

const contactPoint = z.looseObject({ value: z.string(), primary: z.boolean().optional() });

/** The person fields the contacts projection reads. */
export const contactPersonSchema = z.looseObject({
  id: z.number().int(),
  name: z.string(),
  org_id: z.number().int().nullable(),
  emails: z.array(contactPoint),
  phones: z.array(contactPoint),
  update_time: z.string(),
});

/** A person as the contacts projection reads it. */
export type ContactPerson = z.infer<typeof contactPersonSchema>;

/** A row of the app's `contacts` table. */
export interface ContactRow {
  pipedrive_id: number;
  name: string;
  /** The primary email (else the first), or null. */
  email: string | null;
  /** The primary phone (else the first), or null. */
  phone: string | null;
  org_id: number | null;
  /** The person's `update_time` in Pipedrive. */
  updated_at: string;
}

/** Options for {@link contactsMapper}. */
export interface ContactsMapperOptions {
  /** The app's table (optionally schema-qualified as `schema.table`). @default 'contacts' */
  table?: string;
  /** The mapping's version: raise it after changing the projection, and every person is projected again. @default 1 */
  version?: number;
  /** The mapper's name, under which its position and quarantine are kept. @default 'contacts' */
  name?: string;
}

const primaryOf = (points: ReadonlyArray<{ value: string; primary?: boolean | undefined }>) =>
  (points.find((p) => p.primary) ?? points[0])?.value ?? null;

/** Projects one person into a contact row. */
export function personToContact(person: ContactPerson): ContactRow {
  return {
    pipedrive_id: person.id,
    name: person.name,
    email: primaryOf(person.emails),
    phone: primaryOf(person.phones),
    org_id: person.org_id,
    updated_at: person.update_time,
  };
}

function tableName(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(p)))
    throw new PipedriveWebhookError('contactsMapper', 'invalid_options', `table must be [schema.]name, got ${table}`);
  return parts.map((p) => quoteIdent(p)).join('.');
}

/** The `CREATE TABLE IF NOT EXISTS` of the example's `contacts` table. */
export function contactsTableSql(table = 'contacts'): string {
  return `CREATE TABLE IF NOT EXISTS ${tableName(table)} (
  pipedrive_id bigint PRIMARY KEY,
  name text NOT NULL,
  email text,
  phone text,
  org_id bigint,
  updated_at timestamptz NOT NULL
)`;
}

/**
 * The example mapper from Pipedrive persons to an app's `contacts` table
 * (create it with {@link contactsTableSql}): upserts one row per person,
 * deletes the rows of soft-deleted persons, and quarantines persons whose
 * payload lacks a field it reads, leaving their contact row as it was.
 *
 * @example
 * ```ts
 * await db.exec(contactsTableSql());
 * const contacts = contactsMapper();
 * await contacts.run(sync.tables.persons!);
 * console.log(await contacts.quarantined(sync.tables.persons!));
 * ```
 */
export function contactsMapper(options: ContactsMapperOptions = {}): Mapper {
  const table = tableName(options.table ?? 'contacts');
  return mapper<ContactPerson, ContactRow>({
    name: options.name ?? 'contacts',
    schema: contactPersonSchema,
    version: options.version ?? 1,
    map: personToContact,
    async write(rows: ContactRow[], tx: SqlExecutor) {
      await tx.query(
        `INSERT INTO ${table} (pipedrive_id, name, email, phone, org_id, updated_at)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[])
         ON CONFLICT (pipedrive_id) DO UPDATE SET name = excluded.name, email = excluded.email,
           phone = excluded.phone, org_id = excluded.org_id, updated_at = excluded.updated_at`,
        [
          rows.map((r) => r.pipedrive_id),
          rows.map((r) => r.name),
          rows.map((r) => r.email),
          rows.map((r) => r.phone),
          rows.map((r) => r.org_id),
          rows.map((r) => r.updated_at),
        ],
      );
    },
    async onDelete(deleted, tx) {
      await tx.query(`DELETE FROM ${table} WHERE pipedrive_id = ANY($1::bigint[])`, [
        deleted.map((d) => Number(d.externalId)),
      ]);
    },
  });
}

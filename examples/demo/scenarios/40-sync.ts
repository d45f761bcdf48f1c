import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { migrate, type SqlExecutor } from '@ballast/core/stores/sql';
import { cursorPages, isSyncError, mapper, type SyncProgress, syncTable } from '@ballast/core/sync';
import { z } from 'zod';
import type { Report } from '../report';
import type { Scenario } from '../run';

/**
 * A CRM (a local fake with Pipedrive v2-style cursor pages) synced into a raw
 * sync table on PGlite, projected into the app's `contacts` by a mapper. The
 * provider then misbehaves: a 503 in the middle of a run, a listing that
 * silently drops a third of the records, and a renamed field.
 */

const PERSONS = 3_000;
const PAGE = 100;

interface Person {
  id: number;
  name: string;
  emails?: Array<{ value: string; primary: boolean }>;
  email_addresses?: Array<{ value: string; primary: boolean }>;
  update_time: string;
}

/** The fake CRM: GET /api/v2/persons?cursor=&limit=&updated_since= with `additional_data.next_cursor`. */
async function fakeCrm() {
  const persons = new Map<number, Person>();
  for (let id = 1; id <= PERSONS; id++) {
    persons.set(id, {
      id,
      name: `Person ${id}`,
      emails: [{ value: `person${id}@example.com`, primary: true }],
      update_time: '2026-01-01T00:00:00.000Z',
    });
  }
  const misbehave = { failOnPage: 0, hideAbove: 0 };
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const offset = Number(url.searchParams.get('cursor') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? PAGE);
    const since = url.searchParams.get('updated_since');
    if (misbehave.failOnPage > 0 && offset / limit + 1 === misbehave.failOnPage) {
      misbehave.failOnPage = 0;
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"success":false,"error":"Service unavailable"}');
      return;
    }
    const all = [...persons.values()].filter(
      (p) => (!since || p.update_time >= since) && (!misbehave.hideAbove || p.id <= misbehave.hideAbove),
    );
    const data = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : null;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ success: true, data, additional_data: { next_cursor: next } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    persons,
    misbehave,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The app's source: cursor pages over the fake CRM, `updated_since` on incremental runs. */
function personsSource(base: string) {
  return cursorPages<Person>({
    async fetch({ cursor, since, signal }) {
      const url = new URL('/api/v2/persons', base);
      url.searchParams.set('limit', String(PAGE));
      if (cursor) url.searchParams.set('cursor', cursor);
      if (since) url.searchParams.set('updated_since', since.toISOString());
      const response = await fetch(url, signal ? { signal } : {});
      if (!response.ok) throw new Error(`CRM answered ${response.status}`);
      const body = (await response.json()) as { data: Person[]; additional_data: { next_cursor: string | null } };
      return { records: body.data, next: body.additional_data.next_cursor };
    },
  });
}

const progress = (report: Report, label: string) => (p: SyncProgress) =>
  report.progress(
    `${label}: page ${p.pages} · ${p.counts.seen} records · ${p.counts.inserted} new · ${p.counts.changed} changed · ${p.counts.unchanged} unchanged`,
  );

const emails = z.array(z.object({ value: z.string(), primary: z.boolean() }));
const v1Schema = z.object({ id: z.number(), name: z.string(), emails });
/** v2 reads both shapes: the provider renamed `emails` to `email_addresses`. */
const v2Schema = z.union([
  v1Schema,
  z
    .object({ id: z.number(), name: z.string(), email_addresses: emails })
    .transform(({ email_addresses, ...rest }) => ({ ...rest, emails: email_addresses })),
]);

interface Contact {
  id: number;
  name: string;
  email: string | null;
}

const scenario: Scenario = {
  title: 'Sync tables: a CRM synced raw, projected by a mapper, surviving a 503, a short listing and a renamed field',
  async run(report, context) {
    const crm = await fakeCrm();
    const db = await context.db();
    try {
      await migrate(db, { modules: ['sync'] });
      await db.exec('CREATE TABLE contacts (id integer PRIMARY KEY, name text NOT NULL, email text)');
      const persons = syncTable<Person>(db, { source: 'crm', entity: 'persons', batchSize: 500 });
      const source = personsSource(crm.base);

      const writeContacts = async (rows: Contact[], tx: SqlExecutor) => {
        await tx.query(
          `INSERT INTO contacts (id, name, email) SELECT * FROM unnest($1::int[], $2::text[], $3::text[])
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email`,
          [rows.map((r) => r.id), rows.map((r) => r.name), rows.map((r) => r.email)],
        );
      };
      const toContact = (p: z.infer<typeof v1Schema>): Contact => ({
        id: p.id,
        name: p.name,
        email: p.emails.find((e) => e.primary)?.value ?? null,
      });
      const contactsV1 = mapper({
        name: 'contacts',
        schema: v1Schema,
        version: 1,
        map: toContact,
        write: writeContacts,
      });
      const contactOf = async (id: number) =>
        (await db.query<Contact>('SELECT id, name, email FROM contacts WHERE id = $1', [id])).rows[0];
      const check = (ok: boolean, text: string) => (ok ? report.ok(text) : report.fail(text));

      // 1. first full sync, interrupted by a 503 on page 12, then resumed
      crm.misbehave.failOnPage = 12;
      try {
        await persons.run(source, { mode: 'full', onPage: progress(report, 'full sync') });
        report.fail('the 503 on page 12 should have interrupted the run');
      } catch (error) {
        check(
          isSyncError(error) && error.code === 'source_failed',
          `the CRM answered 503 on page 12: run interrupted (${isSyncError(error) ? error.code : String(error)})`,
        );
      }
      const [interrupted] = await persons.runs({ limit: 1 });
      check(
        interrupted?.status === 'interrupted' && interrupted.pages === 11 && interrupted.cursor === '1100',
        `checkpoint kept: ${interrupted?.pages} pages stored, next cursor ${interrupted?.cursor}`,
      );
      const before = crm.requests();
      const first = await persons.run(source, { mode: 'full', onPage: progress(report, 'resumed') });
      check(
        first.resumed && first.id === interrupted?.id && crm.requests() - before === 19,
        `resumed at page 12 with ${crm.requests() - before} requests for the remaining 19 pages`,
      );
      check(
        first.counts.inserted === PERSONS && (await persons.count()) === PERSONS,
        `${first.counts.inserted} persons stored once each, across both attempts`,
      );

      const projected = await contactsV1.run(persons);
      check(projected.written === PERSONS, `mapper v1 projected ${projected.written} contacts`);

      // 2. an unchanged re-sync writes nothing
      const seqBefore = (await db.query<{ s: string }>('SELECT max(change_seq)::text AS s FROM ballast.sync_rows'))
        .rows[0]?.s;
      const again = await persons.run(source, { mode: 'full' });
      const seqAfter = (await db.query<{ s: string }>('SELECT max(change_seq)::text AS s FROM ballast.sync_rows'))
        .rows[0]?.s;
      check(
        again.counts.unchanged === PERSONS && again.counts.changed === 0 && seqBefore === seqAfter,
        `unchanged re-sync: ${again.counts.unchanged} unchanged, 0 rows written (change feed still at ${seqAfter})`,
      );
      check((await contactsV1.run(persons)).processed === 0, 'the mapper finds nothing new to project');

      // 3. a listing that silently drops a third of the records does not wipe the table
      crm.misbehave.hideAbove = 2_000;
      try {
        await persons.run(source, { mode: 'full' });
        report.fail('a full sync missing a third of the rows should have been refused');
      } catch (error) {
        check(isSyncError(error) && error.code === 'mass_delete', 'a full sync that saw 2,000 of 3,000 was refused:');
        report.line(isSyncError(error) ? error.message : String(error));
      }
      check((await persons.count()) === PERSONS, `nothing deleted: ${await persons.count()} live persons`);
      crm.misbehave.hideAbove = 0;

      // 4. the provider renames `emails` to `email_addresses` on 300 updated persons
      const updatedAt = new Date().toISOString();
      for (let id = 1; id <= 300; id++) {
        const p = crm.persons.get(id) as Person;
        crm.persons.set(id, {
          id,
          name: p.name,
          email_addresses: [{ value: `new.person${id}@example.com`, primary: true }],
          update_time: updatedAt,
        });
      }
      const inc = await persons.run(source, { mode: 'incremental', onPage: progress(report, 'incremental') });
      check(
        inc.counts.seen === 300 && inc.counts.changed === 300,
        `incremental sync (updated_since ${inc.since?.toISOString()}): ${inc.counts.changed} changed`,
      );
      const r1 = await contactsV1.run(persons);
      const quarantined = await contactsV1.quarantined(persons, { limit: 1 });
      check(
        r1.quarantined === 300 && (await contactsV1.quarantineCount(persons)) === 300,
        `mapper v1: ${r1.quarantined} rows quarantined, e.g. #${quarantined[0]?.externalId}: ${quarantined[0]?.error}`,
      );
      const kept = await contactOf(1);
      check(kept?.email === 'person1@example.com', `the app keeps the last good data: contact 1 is ${kept?.email}`);

      // 5. mapper v2 reads both shapes and re-projects everything
      const contactsV2 = mapper({
        name: 'contacts',
        schema: v2Schema,
        version: 2,
        map: toContact,
        write: writeContacts,
      });
      const r2 = await contactsV2.run(persons);
      check(
        r2.reprojected && r2.processed === PERSONS && r2.released === 300,
        `mapper v2 re-projected ${r2.processed} rows, ${r2.released} released from quarantine`,
      );
      check((await contactsV2.quarantineCount(persons)) === 0, 'quarantine is empty');
      check((await contactOf(1))?.email === 'new.person1@example.com', 'contact 1 now has the new address');

      report.table(
        (await persons.runs({ limit: 10 })).reverse().map((r) => ({
          run: r.id,
          mode: r.mode,
          status: r.status,
          pages: r.pages,
          inserted: r.counts.inserted,
          changed: r.counts.changed,
          unchanged: r.counts.unchanged,
          deleted: r.counts.deleted,
          error: r.errorCode ?? '',
        })),
      );
    } finally {
      await crm.close();
    }
  },
};

export default scenario;

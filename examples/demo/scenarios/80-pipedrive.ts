import { drainInbox } from '@ballast/core/inbox';
import { migrate, sqlBulkCheckpoints, sqlInbox } from '@ballast/core/stores/sql';
import {
  bulkUpsertPersons,
  contactsMapper,
  contactsTableSql,
  pipedriveClient,
  pipedriveEventHandlers,
  pipedriveSync,
  pipedriveWebhooks,
} from '@ballast/pipedrive';
import { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN } from '@ballast/pipedrive/testing';
import type { Scenario } from '../run';

/**
 * Pipedrive: 5,000 contacts pulled from a fake Pipedrive (Lite plan, API
 * token) into sync tables and mapped into the app's `contacts` table; 1,000
 * changes pushed back as a bulk job inside the burst window; a change made in
 * Pipedrive arriving by webhook; a field Pipedrive renamed landing in
 * quarantine while the app keeps its last good data.
 *
 * The fake keeps Pipedrive's shape of limits but compresses the window:
 * Lite's 20 requests per rolling 2 s become 20 per 100 ms, so the 1,000
 * updates take about 5 s instead of 100 s.
 */

const CONTACTS = 5000;
const UPDATES = 1000;
const WINDOW_MS = 100;
const SCHEMA = 'demo_pipedrive';
const CREDENTIALS = 'ballast-demo:hook-password-80';

const scenario: Scenario = {
  title: 'Pipedrive: 5,000 contacts synced, 1,000 pushed back inside the burst window',
  async run(report, context) {
    const t0 = performance.now();
    const db = await context.db();
    await migrate(db, { schema: SCHEMA });
    await db.exec(contactsTableSql(`${SCHEMA}.contacts`));
    const seconds = (from: number) => `${((performance.now() - from) / 1000).toFixed(1)} s`;

    // The app's endpoint stores deliveries (Basic auth) and a drain applies them to the raw rows.
    const inbox = sqlInbox(db, { schema: SCHEMA });
    const endpoint = pipedriveWebhooks({ credentials: CREDENTIALS, inbox, worker: false });
    const fake = createFakePipedrive({
      seed: 80,
      plan: 'lite',
      windowMs: WINDOW_MS,
      webhooks: { target: (request) => endpoint(request) },
    });
    fake.seed({ person: CONTACTS });
    {
      // in-process (the fake's fetch handler): the bulk tests and the bench run the same over real sockets
      const pipedrive = pipedriveClient({
        auth: { type: 'api_token', token: FAKE_PIPEDRIVE_API_TOKEN },
        plan: 'lite',
        baseUrl: 'https://fake-company.pipedrive.com',
        fetch: fake.fetch,
        windowMs: WINDOW_MS,
      });
      report.line(
        `fake Pipedrive in process: Lite plan, API token, 20 requests per rolling window compressed from 2 s to ${WINDOW_MS} ms`,
      );

      // 1. Pull: a full sync over the v2 cursor (500 per page), then the mapper into the app's table.
      const pulled = performance.now();
      const sync = pipedriveSync({
        client: pipedrive,
        db,
        schema: SCHEMA,
        entities: ['persons'],
      });
      const full = await sync.run({ mode: 'full' });
      const persons = sync.tables.persons;
      if (!persons) throw new Error('the persons table is missing');
      const contacts = contactsMapper({ table: `${SCHEMA}.contacts` });
      const mapped = await contacts.run(persons);
      const count = async () =>
        Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.contacts`)).rows[0]?.n);
      report.table([
        { what: 'persons read (v2 pages of 500)', value: full.persons?.counts.seen ?? 0 },
        { what: 'raw rows inserted', value: full.persons?.counts.inserted ?? 0 },
        { what: 'contacts written by the mapper', value: mapped.written },
        { what: 'time', value: seconds(pulled) },
      ]);
      const rows = await count();
      if (rows === CONTACTS) report.ok(`${CONTACTS} Pipedrive persons in the app's contacts table`);
      else report.fail(`expected ${CONTACTS} contacts, found ${rows}`);

      // 2. Push: 1,000 changes back as one bulk job keyed by email, checkpointed in the database.
      const chosen = await db.query<{ email: string; name: string }>(
        `SELECT email, name FROM ${SCHEMA}.contacts ORDER BY pipedrive_id LIMIT ${UPDATES}`,
      );
      const requestsBefore = fake.requests.length;
      const pushed = performance.now();
      const result = await bulkUpsertPersons(pipedrive, {
        job: 'demo-vip-tags',
        uniqueField: 'email',
        records: chosen.rows.map((c) => ({ key: c.email, data: { name: `${c.name} (VIP)` } })),
        checkpoints: sqlBulkCheckpoints(db, { schema: SCHEMA }),
        onPlan: (plan) =>
          report.line(
            `plan: ${plan.pending} records, ${plan.requests} requests, ${plan.cost} of ${plan.budgetRemaining} budget units left today: ${plan.finishesToday ? 'finishes today' : `only ${plan.fitsToday} fit today`}, about ${((plan.estimatedMs ?? 0) / 1000).toFixed(1)} s`,
          ),
        onProgress: (p) =>
          report.progress(
            `${bar(p.done / p.total)} ${p.done}/${p.total}, ${p.failed} failed, ${((p.etaMs ?? 0) / 1000).toFixed(1)} s left`,
          ),
      });
      const window = fake.requests.slice(requestsBefore);
      const first = window[0]?.at ?? 0;
      const late429 = window.filter((r) => r.status === 429 && r.at - first >= WINDOW_MS).length;
      const minimumMs = (Math.ceil(window.length / 20) - 1) * WINDOW_MS;
      report.table([
        { what: 'updated', value: result.updated },
        { what: 'created', value: result.created },
        { what: 'failed', value: result.failures.length },
        { what: 'requests (1 list pass + 1 PATCH each)', value: window.length },
        {
          what: '429s (all / after the first window)',
          value: `${window.filter((r) => r.status === 429).length} / ${late429}`,
        },
        { what: 'bans (403)', value: fake.stats().bans },
        {
          what: 'time / floor at 20 per window',
          value: `${seconds(pushed)} / ${(minimumMs / 1000).toFixed(1)} s (CPU-bound on a loaded machine; see pnpm bench pipedrive)`,
        },
      ]);
      if (result.status === 'completed' && result.updated === UPDATES && result.failures.length === 0)
        report.ok(`${UPDATES} updates pushed back by one bulk job, none failed`);
      else report.fail(`bulk job: ${result.status}, ${result.updated} updated, ${result.failures.length} failed`);
      if (late429 === 0 && fake.stats().bans === 0) report.ok('no 429 after the first window and no ban');
      else report.fail(`${late429} 429s after the first window, ${fake.stats().bans} bans`);

      // The changes come back into the app by an incremental sync.
      await sync.run({ mode: 'incremental' });
      await contacts.run(persons);
      const vip = Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.contacts WHERE name LIKE '% (VIP)'`))
          .rows[0]?.n,
      );
      if (vip === UPDATES) report.ok(`an incremental sync brought the ${UPDATES} changes back into the app's table`);
      else report.fail(`expected ${UPDATES} VIP contacts after the incremental sync, found ${vip}`);

      // 3. A change made in Pipedrive arrives by webhook and is applied to the same raw rows.
      await pipedrive.webhooks.create({
        subscription_url: 'https://app.example.com/webhooks/pipedrive',
        event_action: '*',
        event_object: 'person',
        http_auth_user: CREDENTIALS.split(':')[0],
        http_auth_password: CREDENTIALS.split(':')[1],
      });
      const target = chosen.rows.length;
      const changedId = Number(
        (
          await db.query<{ id: string }>(
            `SELECT pipedrive_id AS id FROM ${SCHEMA}.contacts ORDER BY pipedrive_id OFFSET ${target} LIMIT 1`,
          )
        ).rows[0]?.id,
      );
      fake.edit('person', changedId, { name: 'Changed in Pipedrive' });
      await fake.webhooksIdle();
      const on = pipedriveEventHandlers({
        'person.*': (event, ctx) => sync.applyEvent(event, ctx).then(() => undefined),
      });
      await drainInbox({ inbox, source: 'pipedrive', on });
      await contacts.run(persons);
      const changed = (
        await db.query<{ name: string }>(`SELECT name FROM ${SCHEMA}.contacts WHERE pipedrive_id = $1`, [changedId])
      ).rows[0]?.name;
      if (changed === 'Changed in Pipedrive')
        report.ok(`webhook change applied: contact ${changedId} renamed in the app`);
      else report.fail(`contact ${changedId} is ${JSON.stringify(changed)} after the webhook`);

      // 4. Pipedrive renames a field: the mapper quarantines the person, the app keeps its last good data.
      fake.renameField('person', 'emails', 'email_addresses');
      const renamedId = changedId + 1;
      const before = (
        await db.query<{ email: string }>(`SELECT email FROM ${SCHEMA}.contacts WHERE pipedrive_id = $1`, [renamedId])
      ).rows[0]?.email;
      fake.edit('person', renamedId, { name: 'Renamed field' });
      await fake.webhooksIdle();
      await drainInbox({ inbox, source: 'pipedrive', on });
      const afterRename = await contacts.run(persons);
      const quarantine = await contacts.quarantined(persons);
      const kept = (
        await db.query<{ email: string; name: string }>(
          `SELECT email, name FROM ${SCHEMA}.contacts WHERE pipedrive_id = $1`,
          [renamedId],
        )
      ).rows[0];
      const entry = quarantine.find((q) => q.externalId === String(renamedId));
      if (afterRename.quarantined >= 1 && entry && kept?.email === before && kept?.name !== 'Renamed field')
        report.ok(`renamed field quarantined (${entry.error.slice(0, 60)}…); contact ${renamedId} kept ${before}`);
      else
        report.fail(
          `rename: quarantined ${afterRename.quarantined}, entry ${JSON.stringify(entry)}, row ${JSON.stringify(kept)}`,
        );
      fake.renameField('person', 'emails', null);
      report.line(`scenario time: ${seconds(t0)}`);
    }
  },
};

function bar(ratio: number, width = 24): string {
  const full = Math.round(Math.max(0, Math.min(1, ratio)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

export default scenario;

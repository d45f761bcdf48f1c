import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { versionGuard } from '@ballast/core/idempotency';
import { createWebhookHandler, toNodeHandler } from '@ballast/core/inbox';
import { migrate, sqlInbox, sqlVersionStore } from '@ballast/core/stores/sql';
import { signWebhook } from '@ballast/core/webhooks';
import { createWebhookSender } from '@ballast/stripe/testing';
import type { Scenario } from '../run';

/**
 * The durable webhook inbox on PGlite: a misbehaving Stripe sender posts
 * duplicated, reordered deliveries over loopback HTTP; the endpoint verifies,
 * stores each event once and answers 200 only after the commit; a worker
 * processes events off the request path, retries a flaky mail API,
 * dead-letters what keeps failing, and applies customer updates in version
 * order. Each side effect must happen exactly once.
 */
const SECRET = 'whsec_demo_inbox';
const INVOICES = 60;
const CUSTOMERS = 3;
const UPDATES_PER_CUSTOMER = 4;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const scenario: Scenario = {
  title: 'Inbox: duplicated, reordered Stripe webhooks stored once in PGlite, processed once, asynchronously',
  async run(report, context) {
    const db = await context.db();
    await migrate(db, { modules: ['inbox', 'idempotency'] });
    await db.exec(`
      CREATE TABLE receipts (invoice_id text PRIMARY KEY, email_sent_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE customers (id text PRIMARY KEY, email text NOT NULL, version bigint NOT NULL);
    `);
    const inbox = sqlInbox(db);
    const customerVersions = versionGuard({ store: sqlVersionStore(db), scope: 'stripe:customer' });

    const runs = new Map<string, number>(); // handler invocations per event
    const countRun = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1);
    const receiptsSent = new Map<string, number>(); // completed receipt side effects per invoice
    let disputesFixed = false; // the dispute handler has a bug until it is fixed below

    const webhook = createWebhookHandler({
      source: 'stripe',
      verify: { scheme: 'stripe', secret: SECRET },
      inbox,
      worker: {
        concurrency: 4,
        sweepIntervalMs: 50,
        retry: { maxAttempts: 3, initialDelayMs: 40, maxDelayMs: 200 },
        idempotency: { transactional: true },
      },
      on: {
        'invoice.paid': async (event, { tx, attempt }) => {
          countRun(event.id);
          const invoice = (event.payload as { data: { object: { id: string } } }).data.object;
          // a flaky mail API: every tenth receipt fails on its first attempt
          if (attempt === 1 && Number(invoice.id.split('_')[2]) % 10 === 0) throw new Error('mail API: 503');
          await tx?.query('INSERT INTO receipts (invoice_id) VALUES ($1)', [invoice.id]);
          receiptsSent.set(invoice.id, (receiptsSent.get(invoice.id) ?? 0) + 1);
        },
        'customer.updated': async (event, { tx }) => {
          countRun(event.id);
          const customer = (event.payload as { data: { object: { id: string; email: string; version: number } } }).data
            .object;
          if (!tx || !(await customerVersions.apply(customer.id, customer.version, { tx }))) return; // an older update
          await tx.query(
            `INSERT INTO customers (id, email, version) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, version = EXCLUDED.version`,
            [customer.id, customer.email, customer.version],
          );
        },
        'charge.dispute.created': async (event) => {
          countRun(event.id);
          if (!disputesFixed) throw new TypeError("Cannot read properties of undefined (reading 'evidence')");
        },
      },
    });
    const server = createServer(toNodeHandler(webhook));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;

    try {
      const sender = createWebhookSender(undefined, {
        target: url,
        secret: SECRET,
        chaos: { duplicate: 0.4, reorder: 0.5 },
        seed: 20,
        concurrency: 16,
      });
      const created = Math.floor(Date.now() / 1000);
      for (let i = 1; i <= INVOICES; i++) {
        sender.enqueue({
          id: `evt_inv_${i}`,
          object: 'event',
          type: 'invoice.paid',
          created,
          data: { object: { id: `in_demo_${i}`, object: 'invoice', amount_paid: 1000 + i } },
        });
      }
      for (let c = 1; c <= CUSTOMERS; c++) {
        for (let v = 1; v <= UPDATES_PER_CUSTOMER; v++) {
          sender.enqueue({
            id: `evt_cus_${c}_${v}`,
            object: 'event',
            type: 'customer.updated',
            created: created + v,
            data: { object: { id: `cus_${c}`, email: `customer${c}+v${v}@example.com`, version: v } },
          });
        }
      }
      sender.enqueue({
        id: 'evt_dispute_1',
        object: 'event',
        type: 'charge.dispute.created',
        created,
        data: { object: { id: 'dp_1' } },
      });
      const total = INVOICES + CUSTOMERS * UPDATES_PER_CUSTOMER + 1;

      const sendStarted = performance.now();
      const delivery = await sender.flush();
      const sendMs = performance.now() - sendStarted;
      const answers = sender.attempts.filter((a) => a.status === 200).length;
      const stored = await inbox.counts();
      report.line(
        `Stripe (fake) sent ${delivery.events} events as ${delivery.attempts} deliveries in ${sendMs.toFixed(0)} ms: ${delivery.duplicated} duplicated, ${delivery.reordered} reordered`,
      );

      // A forged delivery: signed with the wrong secret.
      const forgedBody = JSON.stringify({ id: 'evt_forged', type: 'invoice.paid' });
      const forged = await signWebhook({ scheme: 'stripe', secret: 'whsec_attacker', body: forgedBody });
      const forgedRes = await fetch(url, { method: 'POST', headers: forged.headers, body: forgedBody });
      const forgedJson = (await forgedRes.json()) as { error: string };

      // Processing runs on its own: wait until everything has settled (retries included).
      const deadline = Date.now() + 10_000;
      const settled = async () => {
        const c = await inbox.counts();
        return c.processed + c.dead === c.total;
      };
      const settleStarted = performance.now();
      while (!(await settled()) && Date.now() < deadline) await sleep(50);
      report.line(
        `the worker settled every event ${(performance.now() - settleStarted).toFixed(0)} ms after the last 200`,
      );

      const afterFirstPass = await inbox.counts();
      const dead = await inbox.list({ status: 'dead' });
      report.line('inbox after the deliveries (ballast.inbox_events):');
      report.table([
        {
          deliveries: delivery.attempts,
          'answered 200': answers,
          'stored rows': stored.total,
          'duplicates absorbed': answers - stored.total,
          processed: afterFirstPass.processed,
          'dead-lettered': afterFirstPass.dead,
        },
      ]);
      for (const event of dead.events) {
        report.line(`dead letter: ${event.id} (${event.type}) after ${event.attempts} attempts: ${event.lastError}`);
      }

      // The dispute handler is fixed and its dead letter replayed.
      disputesFixed = true;
      const replayed = await inbox.replay({ source: 'stripe', type: 'charge.dispute.created' });
      while ((await inbox.get('stripe', 'evt_dispute_1'))?.status !== 'processed' && Date.now() < deadline) {
        await sleep(20);
      }
      report.line(`fixed the dispute handler and replayed ${replayed} dead-lettered event`);

      const receipts = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM receipts');
      const customers = await db.query<{ id: string; email: string }>('SELECT id, email FROM customers ORDER BY id');
      const final = await inbox.counts();
      const retried = (await inbox.list({ type: 'invoice.paid', limit: 1000 })).events.filter((e) => e.attempts > 1);
      report.table(
        [...runs.entries()]
          .filter(([id]) => id.startsWith('evt_inv_'))
          .reduce(
            (acc, [, n]) => {
              const row = acc.find((r) => r['handler runs'] === n);
              if (row) row.invoices = Number(row.invoices) + 1;
              else acc.push({ 'handler runs': n, invoices: 1 });
              return acc;
            },
            [] as Record<string, number>[],
          )
          .sort((a, b) => Number(a['handler runs']) - Number(b['handler runs'])),
      );

      const check = (ok: boolean, text: string) => (ok ? report.ok(text) : report.fail(text));
      check(delivery.duplicated > 0 && delivery.reordered > 0, 'the sender duplicated and reordered deliveries');
      check(
        answers === delivery.attempts && stored.total === total,
        `every delivery answered 200 after its commit; ${stored.total} events stored once (${answers - stored.total} duplicates absorbed)`,
      );
      check(
        forgedRes.status === 401 &&
          forgedJson.error === 'no_matching_signature' &&
          (await inbox.get('stripe', 'evt_forged')) === null,
        `a forged delivery got ${forgedRes.status} ${forgedJson.error} and was not stored`,
      );
      check(
        receipts.rows[0]?.n === INVOICES,
        `${receipts.rows[0]?.n} receipts emailed for ${INVOICES} invoices: each exactly once`,
      );
      check(
        retried.length > 0 && retried.every((e) => e.status === 'processed'),
        `${retried.length} invoices failed on the flaky mail API and succeeded on a retry with backoff`,
      );
      check(
        customers.rows.length === CUSTOMERS &&
          customers.rows.every((r, i) => r.email === `customer${i + 1}+v${UPDATES_PER_CUSTOMER}@example.com`),
        `customers hold their newest email despite reordered updates (${customers.rows.map((r) => r.email).join(', ')})`,
      );
      check(
        afterFirstPass.dead === 1 && replayed === 1 && (runs.get('evt_dispute_1') ?? 0) === 4,
        'the buggy dispute handler was dead-lettered after 3 attempts, then ran once more on replay',
      );
      check(
        final.processed === total && final.processing === 0 && final.failed === 0 && final.dead === 0,
        `all ${total} events processed, none left processing`,
      );
      const sentTwice = [...receiptsSent.values()].filter((n) => n !== 1).length;
      check(
        receiptsSent.size === INVOICES && sentTwice === 0,
        `every invoice's receipt side effect completed exactly once (${receiptsSent.size} invoices, ${sentTwice} twice)`,
      );
    } finally {
      await webhook.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  },
};

export default scenario;

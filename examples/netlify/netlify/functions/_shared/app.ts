/**
 * What the functions share: one Stripe webhook endpoint that only verifies
 * and stores (ingest-only, no resident worker), and one drain that processes
 * what was stored. Built from a database handed in, so the tests run the same
 * code against PGlite, Postgres and a store that is down.
 */
import { createWebhookHandler, type DrainResult, drainInbox } from '@ballast/core/inbox';
import { type SqlClient, sqlInbox } from '@ballast/core/stores/sql';

/** The business step: here it records each paid invoice once in the app's own table. */
export type InvoicePaid = (invoiceId: string, eventId: string) => Promise<void>;

export interface App {
  /** The webhook endpoint: a Web Request in, a Response out (200 once stored, 400/401 bad delivery, 503 store down). */
  webhook(request: Request): Promise<Response>;
  /** Processes due events until none is due or `budgetMs` runs out. */
  drain(budgetMs: number): Promise<DrainResult>;
}

export function createApp(options: { db: SqlClient; webhookSecret: string; onInvoicePaid: InvoicePaid }): App {
  const inbox = sqlInbox(options.db);
  const webhook = createWebhookHandler({
    source: 'stripe',
    verify: { scheme: 'stripe', secret: options.webhookSecret },
    inbox,
    worker: false,
  });
  const on = {
    'invoice.paid': async (event: { id: string; payload: unknown }) => {
      const invoice = (event.payload as { data?: { object?: { id?: unknown } } }).data?.object?.id;
      if (typeof invoice !== 'string') throw new Error(`event ${event.id} has no invoice id`);
      await options.onInvoicePaid(invoice, event.id);
    },
  };
  return {
    webhook: (request) => webhook(request),
    drain: (budgetMs) => drainInbox({ inbox, source: 'stripe', on, budgetMs }),
  };
}

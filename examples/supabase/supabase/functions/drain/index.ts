// Called every minute by pg_cron through pg_net: process what the webhook stored,
// with a budget well inside the worker's wall clock (150 s Free, 400 s paid).
import { drainInbox } from '@ballast/core/inbox';
import { database, inbox } from '../_shared/ballast.ts';

async function drain(): Promise<Response> {
  const db = await database();
  const result = await drainInbox({
    inbox: await inbox(),
    source: 'stripe',
    budgetMs: 60_000,
    on: {
      'invoice.paid': async (event) => {
        const invoice = (event.payload as { data?: { object?: { id?: unknown } } }).data?.object?.id;
        if (typeof invoice !== 'string') throw new Error(`event ${event.id} has no invoice id`);
        await db.query(
          'INSERT INTO public.paid_invoices (invoice_id, event_id) VALUES ($1, $2) ON CONFLICT (invoice_id) DO NOTHING',
          [invoice, event.id],
        );
      },
    },
  });
  return Response.json(result);
}

export default { fetch: drain };

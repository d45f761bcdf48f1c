// Called every minute by pg_cron through pg_net: process what the webhook functions stored,
// with a budget well inside the worker's wall clock (150 s Free, 400 s paid).
import { drainInbox } from '@ballast/core/inbox';
import { sqlVersionStore } from '@ballast/core/stores/sql';
import { pipedriveEventHandlers } from '@ballast/pipedrive';
import { refuseUnless } from '../_shared/auth.ts';
import { database, inbox } from '../_shared/ballast.ts';

async function drain(request: Request): Promise<Response> {
  // the schedule's secret key only: checked here (verify_jwt = false, see ../_shared/auth.ts)
  const refused = await refuseUnless(request, ['service_role']);
  if (refused) return refused;
  const db = await database();
  const store = await inbox();
  const stripe = await drainInbox({
    inbox: store,
    source: 'stripe',
    budgetMs: 30_000,
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
  const pipedrive = await drainInbox({
    inbox: store,
    source: 'pipedrive',
    budgetMs: 30_000,
    // the out-of-order guard's versions in the database: every drain sees the same ones
    on: pipedriveEventHandlers(
      {
        'person.*': async (event) => {
          await db.query(
            `INSERT INTO public.pipedrive_person_changes (event_id, person_id, action, name)
             VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
            [event.id, event.entityId, event.action, event.data?.name ?? null],
          );
        },
      },
      { versions: sqlVersionStore(db) },
    ),
  });
  return Response.json({
    claimed: stripe.claimed + pipedrive.claimed,
    budgetExhausted: stripe.budgetExhausted || pipedrive.budgetExhausted,
    stripe,
    pipedrive,
  });
}

export default { fetch: drain };

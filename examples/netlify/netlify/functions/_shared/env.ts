/**
 * The app as deployed: Postgres from BALLAST_DB_URL (Supabase's
 * transaction-mode pooler, port 6543, works), the webhook secret from
 * STRIPE_WEBHOOK_SECRET. Opened once per warm instance, on first use.
 */
import { createPostgres } from '@ballast/core/stores/postgres';
import { migrate } from '@ballast/core/stores/sql';
import { type App, createApp } from './app.ts';

let app: Promise<App> | undefined;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (Site configuration > Environment variables, Functions scope)`);
  return value;
}

/**
 * The app of this warm instance. A failed start (the database unreachable
 * while `migrate()` runs) is not kept: the next request tries again.
 */
export function deployedApp(): Promise<App> {
  app ??= (async () => {
    const db = await createPostgres({ connectionString: required('BALLAST_DB_URL'), max: 2 });
    try {
      await migrate(db);
    } catch (error) {
      await db.close().catch(() => {});
      throw error;
    }
    return createApp({
      db,
      webhookSecret: required('STRIPE_WEBHOOK_SECRET'),
      onInvoicePaid: async (invoiceId, eventId) => {
        await db.query(
          `INSERT INTO public.paid_invoices (invoice_id, event_id) VALUES ($1, $2) ON CONFLICT (invoice_id) DO NOTHING`,
          [invoiceId, eventId],
        );
      },
    });
  })().catch((error: unknown) => {
    app = undefined;
    throw error;
  });
  return app;
}

/**
 * What the webhook answers when the app cannot start (the database unreachable,
 * a variable missing): 503 with `Retry-After`, as the inbox does for a store
 * outage, so the provider keeps the delivery and retries; the cause goes to
 * the function log. Not a 500 page.
 */
export function startFailure(error: unknown): Response {
  console.error('[stripe-webhook] cannot start:', error);
  return Response.json({ error: 'unavailable' }, { status: 503, headers: { 'retry-after': '5' } });
}

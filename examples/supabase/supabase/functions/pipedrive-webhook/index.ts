// POST /functions/v1/pipedrive-webhook (verify_jwt = false): check Pipedrive's Basic credentials,
// store the event, answer. Processing happens in the drain function, on a schedule, so the answer
// never waits for it (Pipedrive gives up after 10 s, and ten failed first deliveries ban the
// webhook for 30 minutes).

import type { Inbox } from '@ballast/core/inbox';
import { pipedriveWebhooks } from '@ballast/pipedrive';
import { env, inbox } from '../_shared/ballast.ts';

let handler: ((request: Request) => Promise<Response>) | undefined;

async function webhook(request: Request): Promise<Response> {
  let store: Inbox;
  try {
    store = await inbox();
  } catch {
    // the database cannot be reached yet: Pipedrive retries a 503 (after 3, 30 and 150 s)
    return new Response(JSON.stringify({ error: 'store_unavailable' }), {
      status: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '5' },
    });
  }
  // PIPEDRIVE_WEBHOOK_CREDENTIALS is user:password, as registered (registerPipedriveWebhook keeps
  // them in the vault; `supabase secrets set` them for the function)
  handler ??= pipedriveWebhooks({
    credentials: env('PIPEDRIVE_WEBHOOK_CREDENTIALS'),
    inbox: store,
    worker: false,
  });
  return handler(request);
}

export default { fetch: webhook };

// POST /functions/v1/pipedrive-webhook (verify_jwt = false): check Pipedrive's Basic credentials,
// store the event, answer. Processing happens in the drain function, on a schedule, so the answer
// never waits for it (Pipedrive gives up after 10 s, and ten failed first deliveries ban the
// webhook for 30 minutes). While the database cannot be reached, Pipedrive retries the 503
// (after 3, 30 and 150 s).

import { pipedriveWebhooks } from '@ballast/pipedrive';
import { env, ingestEndpoint } from '../_shared/ballast.ts';

// PIPEDRIVE_WEBHOOK_CREDENTIALS is user:password, as registered (registerPipedriveWebhook keeps
// them in the vault; `supabase secrets set` them for the function)
export default ingestEndpoint((inbox) =>
  pipedriveWebhooks({ credentials: env('PIPEDRIVE_WEBHOOK_CREDENTIALS'), inbox, worker: false }),
);

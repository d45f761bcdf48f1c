// POST /webhooks/stripe: verify, store, answer. Processing happens in drain.ts.
import type { Config } from '@netlify/functions';
import { deployedApp, startFailure } from './_shared/env.ts';

export default async (request: Request): Promise<Response> => {
  const app = await deployedApp().catch(startFailure);
  return app instanceof Response ? app : app.webhook(request);
};

export const config: Config = { path: '/webhooks/stripe', method: 'POST' };

// POST /webhooks/stripe: verify, store, answer. Processing happens in drain.ts.
import { deployedApp } from './_shared/env.ts';

export default async (request: Request): Promise<Response> => (await deployedApp()).webhook(request);

export const config = { path: '/webhooks/stripe', method: 'POST' };

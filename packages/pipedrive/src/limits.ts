/** Pipedrive subscription plans, which set the burst limit. */
export type PipedrivePlan = 'lite' | 'growth' | 'premium' | 'ultimate';
/** How the integration authenticates: a personal API token or OAuth. */
export type PipedriveAuth = 'api_token' | 'oauth';

const BURST: Record<PipedrivePlan, Record<PipedriveAuth, number>> = {
  lite: { api_token: 20, oauth: 80 },
  growth: { api_token: 40, oauth: 160 },
  premium: { api_token: 100, oauth: 400 },
  ultimate: { api_token: 120, oauth: 480 },
};

/**
 * Pipedrive's burst limit: requests per rolling 2-second window, per token.
 * The Search API allows 10 per 2 s on every plan.
 */
export function pipedriveBurstLimit(
  plan: PipedrivePlan,
  auth: PipedriveAuth,
  options: { search?: boolean } = {},
): { requests: number; intervalMs: number } {
  const row = BURST[plan];
  if (!row) throw new TypeError(`[@ballast/pipedrive] [pipedriveBurstLimit] unknown plan ${JSON.stringify(plan)}`);
  return { requests: options.search ? 10 : row[auth], intervalMs: 2000 };
}

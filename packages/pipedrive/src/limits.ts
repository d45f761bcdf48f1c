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

/** Pipedrive's plan multipliers of the daily token budget. */
const MULTIPLIER: Record<PipedrivePlan, number> = { lite: 1, growth: 2, premium: 5, ultimate: 7 };

/** Tokens per seat per day before the plan multiplier. */
export const PIPEDRIVE_DAILY_TOKENS_PER_SEAT = 30_000;

/**
 * The company's daily token budget: 30,000 × the plan's multiplier (Lite 1,
 * Growth 2, Premium 5, Ultimate 7) × seats. Top-ups bought on top are not
 * counted; pass them as `extra`.
 */
export function pipedriveDailyBudget(plan: PipedrivePlan, seats = 1, extra = 0): number {
  const multiplier = MULTIPLIER[plan];
  if (multiplier === undefined)
    throw new TypeError(`[@ballast/pipedrive] [pipedriveDailyBudget] unknown plan ${JSON.stringify(plan)}`);
  if (!Number.isInteger(seats) || seats < 1)
    throw new TypeError('[@ballast/pipedrive] [pipedriveDailyBudget] seats must be a positive integer');
  if (!Number.isFinite(extra) || extra < 0)
    throw new TypeError('[@ballast/pipedrive] [pipedriveDailyBudget] extra must be a non-negative number');
  return PIPEDRIVE_DAILY_TOKENS_PER_SEAT * multiplier * seats + extra;
}

/** The kinds of operation the daily token budget prices. */
export type PipedriveOperation = 'get' | 'list' | 'create' | 'update' | 'delete' | 'delete_list' | 'search';

/** Token cost per operation, for one API version. */
export type PipedriveCostTable = Record<PipedriveOperation, number>;

/**
 * Published v1 costs (get 2, list 20, update 10, delete 6, delete list 10,
 * search 40). Create is not published: it is priced as an update (the safe
 * reading, UNVERIFIED).
 */
export const PIPEDRIVE_V1_COSTS: Readonly<PipedriveCostTable> = Object.freeze({
  get: 2,
  list: 20,
  create: 10,
  update: 10,
  delete: 6,
  delete_list: 10,
  search: 40,
});

/**
 * v2 costs: Pipedrive says v2 endpoints cost "up to half" of v1. Without a
 * per-endpoint v2 table, half of v1 is the safe reading (it never
 * underestimates; UNVERIFIED); persons get 1 and list 10 match it.
 */
export const PIPEDRIVE_V2_COSTS: Readonly<PipedriveCostTable> = Object.freeze({
  get: 1,
  list: 10,
  create: 5,
  update: 5,
  delete: 3,
  delete_list: 5,
  search: 20,
});

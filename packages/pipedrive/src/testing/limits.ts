/**
 * The fake's limit bookkeeping: a rolling window per token and bucket that
 * counts accepted requests at their arrival, the ban that follows requests
 * sent while a token is over its limit, and the company's daily token budget.
 */

/** A rolling window over accepted arrivals. */
export class RollingWindow {
  readonly #hits: number[] = [];
  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  #prune(now: number): void {
    while (this.#hits.length > 0 && now - (this.#hits[0] as number) >= this.windowMs) this.#hits.shift();
  }

  /** Requests accepted in the window ending at `now`. */
  used(now: number): number {
    this.#prune(now);
    return this.#hits.length;
  }

  /** Milliseconds until the oldest accepted request leaves the window (0 when there is room). */
  resetMs(now: number): number {
    this.#prune(now);
    if (this.#hits.length < this.limit) return 0;
    return (this.#hits[0] as number) + this.windowMs - now;
  }

  /** Milliseconds until the oldest accepted request leaves the window (0 when it is empty). */
  nextFreeMs(now: number): number {
    this.#prune(now);
    const oldest = this.#hits[0];
    return oldest === undefined ? 0 : oldest + this.windowMs - now;
  }

  /** Counts the request when there is room; false when the window is full. */
  take(now: number): boolean {
    this.#prune(now);
    if (this.#hits.length >= this.limit) return false;
    this.#hits.push(now);
    return true;
  }
}

/** The ban state of one token. */
export interface BanState {
  /** When the token last got a 429 and until when it stays "limited" (the reset it was told). */
  limitedUntil: number;
  /** Requests that arrived while limited, since the last ban. */
  strikes: number;
  bannedUntil: number;
}

/** The v1 price of each kind of call, in daily-budget tokens (rate-limiting page). */
export const V1_COSTS = {
  get: 2,
  list: 20,
  update: 10,
  create: 10,
  delete: 6,
  deleteList: 10,
  search: 40,
} as const;

/** The kinds of calls the budget prices. */
export type CostKind = keyof typeof V1_COSTS;

/** Daily-budget multiplier per plan (rate-limiting page). */
export const PLAN_MULTIPLIER = { lite: 1, growth: 2, premium: 5, ultimate: 7 } as const;

/** Start of the budget day containing `now`, for a server whose clock is `offsetMinutes` from UTC. */
export function budgetDayStart(now: number, offsetMinutes: number): number {
  const local = now + offsetMinutes * 60_000;
  const day = Math.floor(local / 86_400_000) * 86_400_000;
  return day - offsetMinutes * 60_000;
}

import type { SharedCounter } from '@ballast/core/resilience';
import { PipedriveError, PipedriveUsageError } from './errors';

/** The daily budget as last known. */
export interface DailyBudgetSnapshot {
  /** Tokens the company may spend today. */
  limit: number;
  /** Tokens spent today, as far as this client knows. */
  used: number;
  remaining: number;
  /** Epoch ms of the next reset. */
  resetAt: number;
  /** Where `used` came from: Pipedrive's `x-daily-ratelimit-token-remaining`, or the cost table. */
  source: 'header' | 'estimate';
}

const DAY = 86_400_000;

/** Milliseconds since midnight of `now` in `timeZone`. */
function sinceMidnight(now: number, format: Intl.DateTimeFormat): { ms: number; day: string } {
  const parts = Object.fromEntries(format.formatToParts(new Date(now)).map((p) => [p.type, p.value]));
  const hour = Number(parts.hour) % 24;
  const ms = ((hour * 60 + Number(parts.minute)) * 60 + Number(parts.second)) * 1000 + (now % 1000);
  return { ms, day: `${parts.year}-${parts.month}-${parts.day}` };
}

/** Tracks the company's daily token budget (see the README's "Limits"). @internal */
export class DailyBudget {
  private readonly format: Intl.DateTimeFormat;
  private limit: number;
  private source: 'header' | 'estimate' = 'estimate';
  private lastUsed = 0;

  constructor(
    limit: number,
    private readonly counter: SharedCounter,
    private readonly key: string,
    timeZone: string,
  ) {
    this.limit = limit;
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch (cause) {
      throw new PipedriveUsageError(
        'pipedriveClient',
        'invalid_options',
        `budgetTimeZone ${JSON.stringify(timeZone)} is not an IANA time zone`,
        { cause },
      );
    }
  }

  private today(now = Date.now()): { key: string; resetAt: number; ttlMs: number } {
    const { ms, day } = sinceMidnight(now, this.format);
    const left = DAY - ms;
    return { key: `${this.key}:${day}`, resetAt: now + left, ttlMs: left + 60_000 };
  }

  /** Books `cost` tokens before a call, or throws `daily_budget_spent` (nothing is sent). */
  async reserve(cost: number, operation: string): Promise<void> {
    const day = this.today();
    const { value, applied } = await this.counter.add(day.key, cost, { ttlMs: day.ttlMs, max: this.limit });
    this.lastUsed = value;
    if (!applied)
      throw new PipedriveError(
        'daily_budget_spent',
        `${operation} was not sent: the daily token budget is spent (${value} of ${this.limit} used, ${cost} needed); it resets at ${new Date(day.resetAt).toISOString()}`,
        { retryAt: day.resetAt, operation },
      );
  }

  /**
   * Reads Pipedrive's daily headers: when it states what remains, that
   * replaces the estimate (other integrations of the company spend too).
   * Returns true when the response says the budget is spent.
   */
  async observe(headers: Headers, status: number): Promise<boolean> {
    const remaining = numberHeader(headers, 'x-daily-ratelimit-token-remaining');
    const limit = numberHeader(headers, 'x-daily-ratelimit-token-limit');
    if (limit !== undefined && limit > 0) this.limit = limit;
    const day = this.today();
    if (remaining !== undefined) {
      const used = Math.max(0, this.limit - remaining);
      this.source = 'header';
      this.lastUsed = used;
      await this.counter.set(day.key, used, { ttlMs: day.ttlMs });
      if (status === 429 && remaining <= 0) return true;
      return false;
    }
    return false;
  }

  /** Marks the day's budget spent (a 429 that says so). */
  async spend(): Promise<void> {
    const day = this.today();
    this.lastUsed = this.limit;
    await this.counter.set(day.key, this.limit, { ttlMs: day.ttlMs });
  }

  /** The budget as last seen by this process (no round trip). */
  snapshot(): DailyBudgetSnapshot {
    const { resetAt } = this.today();
    return {
      limit: this.limit,
      used: this.lastUsed,
      remaining: Math.max(0, this.limit - this.lastUsed),
      resetAt,
      source: this.source,
    };
  }

  /** The budget as stored now (one round trip to a shared store). */
  async read(): Promise<DailyBudgetSnapshot> {
    const day = this.today();
    this.lastUsed = await this.counter.get(day.key);
    return this.snapshot();
  }
}

function numberHeader(headers: Headers, name: string): number | undefined {
  const raw = headers.get(name);
  if (raw === null) return undefined;
  const n = Number(raw.trim());
  return raw.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

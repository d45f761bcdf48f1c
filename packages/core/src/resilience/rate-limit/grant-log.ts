/**
 * The sliding-window log of one key: when each recent grant happened and how
 * much of the budget it took. A grant made at `t` counts until `t + interval`,
 * so no window of `interval` milliseconds, wherever it starts, ever holds more
 * than `limit` units.
 *
 * A ring buffer of two parallel typed arrays: adding a grant allocates nothing
 * once the ring has grown to the key's steady-state size. Optionally, grants
 * that left the window stay readable for `retain` more milliseconds, so a
 * response computed by the provider a little while ago can be compared with
 * what this process had sent at that time (see `usedSince`).
 * @internal
 */
export class GrantLog {
  private times: Float64Array;
  private weights: Float64Array;
  private mask: number;
  /** Oldest retained entry (out of the window, kept for `retain` ms). */
  private tail = 0;
  /** Oldest entry still in the window. */
  private head = 0;
  /** Entries between `tail` and `head`. */
  private expired = 0;
  /** Number of grants still in the window. */
  count = 0;
  /** Sum of the weights still in the window. */
  used = 0;
  /** How long entries stay readable after they leave the window, in ms. */
  retain = 0;

  constructor(capacity = 16) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.times = new Float64Array(size);
    this.weights = new Float64Array(size);
    this.mask = size - 1;
  }

  /** Drops the grants that no longer count at `now`. */
  prune(now: number, interval: number): void {
    const horizon = now - interval;
    while (this.count > 0 && (this.times[this.head] as number) <= horizon) {
      this.used -= this.weights[this.head] as number;
      this.head = (this.head + 1) & this.mask;
      this.count--;
      this.expired++;
    }
    const forget = horizon - this.retain;
    while (this.expired > 0 && (this.times[this.tail] as number) <= forget) {
      this.tail = (this.tail + 1) & this.mask;
      this.expired--;
    }
    // fractional weights can leave rounding dust behind
    if (this.count === 0 || this.used < 1e-9) this.used = this.count === 0 ? 0 : Math.max(0, this.used);
  }

  /**
   * Weight granted after `since`, including grants already out of the window
   * but still retained. Call after `prune`.
   */
  usedSince(since: number): number {
    let total = this.used;
    for (let i = 1; i <= this.expired; i++) {
      const index = (this.head - i) & this.mask;
      if ((this.times[index] as number) <= since) break;
      total += this.weights[index] as number;
    }
    return total;
  }

  /** Time of the most recent grant, or -Infinity when the window is empty. */
  last(): number {
    return this.count === 0
      ? Number.NEGATIVE_INFINITY
      : (this.times[(this.head + this.count - 1) & this.mask] as number);
  }

  /**
   * Records a grant of `weight` at `at` (never earlier than the last grant).
   * Grants in the same millisecond share one entry, so the log never holds
   * more entries than the window (plus `retain`) has milliseconds, however
   * high the rate.
   */
  add(at: number, weight: number): void {
    if (this.count > 0) {
      const lastIndex = (this.head + this.count - 1) & this.mask;
      if (this.times[lastIndex] === at) {
        this.weights[lastIndex] = (this.weights[lastIndex] as number) + weight;
        this.used += weight;
        return;
      }
    }
    if (this.count + this.expired > this.mask) this.grow();
    const index = (this.head + this.count) & this.mask;
    this.times[index] = at;
    this.weights[index] = weight;
    this.count++;
    this.used += weight;
  }

  /**
   * The earliest time at which `weight` more units fit under `limit`, given a
   * pruned log; a time at or before now means "now".
   */
  availableAt(weight: number, limit: number, interval: number): number {
    const excess = this.used + weight - limit;
    if (excess <= 0) return Number.NEGATIVE_INFINITY;
    let freed = 0;
    for (let i = 0; i < this.count; i++) {
      const index = (this.head + i) & this.mask;
      freed += this.weights[index] as number;
      if (freed >= excess - 1e-9) return (this.times[index] as number) + interval;
    }
    // weight alone exceeds the limit: never (callers reject such calls first)
    return Number.POSITIVE_INFINITY;
  }

  private grow(): void {
    const size = (this.mask + 1) * 2;
    const times = new Float64Array(size);
    const weights = new Float64Array(size);
    const total = this.expired + this.count;
    for (let i = 0; i < total; i++) {
      const index = (this.tail + i) & this.mask;
      times[i] = this.times[index] as number;
      weights[i] = this.weights[index] as number;
    }
    this.times = times;
    this.weights = weights;
    this.mask = size - 1;
    this.tail = 0;
    this.head = this.expired;
  }
}

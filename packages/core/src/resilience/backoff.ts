/**
 * Exponential backoff with full jitter: a uniformly random wait between 0 and
 * `min(capMs, baseMs * 2^(attempt - 1))`. Spreading retries over the whole
 * range keeps many clients that failed together from retrying together.
 *
 * @param attempt the attempt that just failed, 1-based
 * @param random a source of numbers in [0, 1)
 */
export function fullJitter(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

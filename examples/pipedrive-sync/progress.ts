import type { BulkProgress } from '@ballast/core/bulk';

/** A one-line progress bar for a bulk job: `[#####.....]  512/1000  51%  0 failed  4.2 s left`. */
export function progressLine(p: BulkProgress, width = 30): string {
  const ratio = p.total === 0 ? 1 : (p.done + p.failed) / p.total;
  const full = Math.round(Math.min(1, ratio) * width);
  const eta = p.etaMs === undefined ? '' : `  ${(p.etaMs / 1000).toFixed(1)} s left`;
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(p.done).padStart(String(p.total).length)}/${p.total} ${String(Math.floor(ratio * 100)).padStart(3)}%  ${p.failed} failed${eta}`;
}

/**
 * Draws progress on a terminal (one line rewritten in place) or, in a log,
 * prints a line at each quarter so the log stays short.
 */
export function progressBar(out: NodeJS.WriteStream = process.stdout) {
  let quarter = -1;
  return {
    update(p: BulkProgress): void {
      if (out.isTTY) {
        out.write(`\r${progressLine(p)}\x1b[K`);
        return;
      }
      const q = Math.floor(((p.done + p.failed) / Math.max(p.total, 1)) * 4);
      if (q > quarter) {
        quarter = q;
        out.write(`${progressLine(p)}\n`);
      }
    },
    end(): void {
      if (out.isTTY) out.write('\n');
    },
  };
}

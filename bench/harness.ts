import { mkdirSync, writeFileSync } from 'node:fs';
import { measure } from 'mitata';

/** One row of a suite's result file (`bench/results/<suite>.json`). */
export interface BenchRow {
  name: string;
  opsPerSec: number;
  p50Ns?: number;
  p99Ns?: number;
  /** Free-form extra facts (peak memory, requests, errors), printed beside the row. */
  note?: string;
}

/** A target stated as a ratio between rows of the same run. */
export interface BenchTarget {
  /** What the target says, e.g. "ballast stripe within 1.15x of floor stripe". */
  label: string;
  /** The measured ratio (or value) to print. */
  measured(rows: ReadonlyMap<string, BenchRow>): number;
  /** True when the target is met; without it the row is a figure for comparison, printed as `info`. */
  met?(value: number): boolean;
}

/** Measures a function (sync or async) with mitata and turns it into a row. */
export async function measureRow(name: string, fn: () => unknown, note?: string): Promise<BenchRow> {
  const stats = await measure(fn, { min_cpu_time: 600_000_000 });
  const row: BenchRow = { name, opsPerSec: 1e9 / stats.avg, p50Ns: stats.p50, p99Ns: stats.p99 };
  if (note !== undefined) row.note = note;
  return row;
}

function fmtNs(ns: number | undefined): string {
  if (ns === undefined) return '';
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(2)} us`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

/**
 * Prints the rows as a table, checks the targets (reported, never thrown:
 * machines are noisy, so targets are read, not asserted), and writes
 * `bench/results/<suite>.json`.
 */
export function report(suite: string, rows: BenchRow[], targets: BenchTarget[] = []): void {
  const width = Math.max(...rows.map((r) => r.name.length), 4);
  console.log(`\n${suite}`);
  console.log(`${'name'.padEnd(width)}  ${'ops/s'.padStart(12)}  ${'p50'.padStart(10)}  ${'p99'.padStart(10)}`);
  for (const r of rows) {
    const ops = Math.round(r.opsPerSec).toLocaleString('en-US');
    console.log(
      `${r.name.padEnd(width)}  ${ops.padStart(12)}  ${fmtNs(r.p50Ns).padStart(10)}  ${fmtNs(r.p99Ns).padStart(10)}${r.note ? `  ${r.note}` : ''}`,
    );
  }
  const byName = new Map(rows.map((r) => [r.name, r]));
  if (targets.length > 0) console.log('\ntargets');
  for (const t of targets) {
    let value = Number.NaN;
    try {
      value = t.measured(byName);
    } catch {
      // a missing row leaves the value NaN, reported as a miss
    }
    console.log(
      `  ${t.met === undefined ? 'info' : t.met(value) ? 'met ' : 'MISS'}  ${t.label}: ${Number.isFinite(value) ? value.toFixed(2) : 'n/a'}`,
    );
  }
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const out: BenchRow[] = rows.map(({ note: _note, ...row }) => row);
  writeFileSync(new URL(`${suite}.json`, dir), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote bench/results/${suite}.json`);
}

/** Ratio helper: how many times faster `a` is than `b` (by ops/s). */
export function speedup(rows: ReadonlyMap<string, BenchRow>, a: string, b: string): number {
  const ra = rows.get(a);
  const rb = rows.get(b);
  if (!ra || !rb) throw new Error(`missing row ${ra ? b : a}`);
  return ra.opsPerSec / rb.opsPerSec;
}

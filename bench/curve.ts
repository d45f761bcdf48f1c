import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as vega from 'vega';
import * as vl from 'vega-lite';

/**
 * `pnpm bench <suite> --curve`: a suite's main rows over a range of sizes,
 * written beside its JSON as `bench/results/<suite>.curve.json` and drawn as
 * `bench/results/<suite>.curve.svg` with Vega-Lite (decision 1001).
 */

/** True when the suite was started with `--curve`. */
export const curveMode = process.argv.includes('--curve');

/** One measured point: `series` (a row) at size `x`. */
export interface CurvePoint {
  series: string;
  x: number;
  /** The charted value (cost per unit: µs per row, µs per call, ms of p99...). */
  y: number;
  /** Extra facts kept in the JSON (throughput, peak RSS...). */
  extra?: Record<string, number | string>;
}

/** How to draw a curve. */
export interface CurveSpec {
  title: string;
  /** What x counts, e.g. "rows synced". */
  x: string;
  /** What y measures, e.g. "µs per row". */
  y: string;
  /** Log scale on x (sizes spanning decades). */
  xLog?: boolean;
  /** Log scale on y. */
  yLog?: boolean;
}

/** The machine a curve came from, written with it (numbers mean nothing without it). */
export function machine(): Record<string, string | number> {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1m: Number(loadavg()[0]?.toFixed(2)),
    date: new Date().toISOString(),
  };
}

/** Renders the points as an SVG line chart (one line per series, points marked). */
export async function renderCurve(spec: CurveSpec, points: readonly CurvePoint[], caption: string): Promise<string> {
  const lite: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: spec.title, subtitle: caption },
    width: 520,
    height: 300,
    background: 'white',
    data: { values: points.map((p) => ({ series: p.series, x: p.x, y: p.y })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: spec.x,
        scale: spec.xLog ? { type: 'log' } : { zero: false },
        axis: { values: [...new Set(points.map((p) => p.x))] },
      },
      y: { field: 'y', type: 'quantitative', title: spec.y, scale: spec.yLog ? { type: 'log' } : { zero: true } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2 } },
    },
  };
  const { spec: compiled } = vl.compile(lite);
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Writes `bench/results/<suite>.curve.json` and `.curve.svg`; prints the points. */
export async function writeCurve(
  suite: string,
  spec: CurveSpec,
  points: readonly CurvePoint[],
  notes: string[] = [],
): Promise<void> {
  const host = machine();
  const caption = `${host.cores} cores (${host.cpu}), load ${host.loadAverage1m}, ${String(host.date).slice(0, 16)}Z`;
  console.log(`\n${suite} curve: ${spec.title} (${spec.y} by ${spec.x})`);
  for (const p of points) {
    const extra = p.extra
      ? `  ${Object.entries(p.extra)
          .map(([k, v]) => `${k} ${typeof v === 'number' ? Math.round(v * 100) / 100 : v}`)
          .join(', ')}`
      : '';
    console.log(`  ${p.series.padEnd(36)} ${String(p.x).padStart(9)}  ${p.y.toFixed(2).padStart(10)}${extra}`);
  }
  for (const note of notes) console.log(`  ${note}`);
  const dir = new URL('./results/', import.meta.url);
  writeFileSync(
    new URL(`${suite}.curve.json`, dir),
    `${JSON.stringify({ suite, spec, machine: host, notes, points }, null, 2)}\n`,
  );
  writeFileSync(new URL(`${suite}.curve.svg`, dir), await renderCurve(spec, points, caption));
  console.log(`\nwrote bench/results/${suite}.curve.json and ${suite}.curve.svg`);
}

/**
 * How far a cost curve is from flat: the largest per-unit cost over the
 * smallest, across the sizes of one series (1 = perfectly linear total cost).
 */
export function bend(points: readonly CurvePoint[], series: string): number {
  const ys = points.filter((p) => p.series === series).map((p) => p.y);
  return Math.max(...ys) / Math.min(...ys);
}

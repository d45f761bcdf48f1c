/**
 * The demo's report: plain text that reads well in a terminal and in a CI log.
 * Scenarios write through this, never with console.log directly, so the
 * report stays one consistent document.
 */
export interface Report {
  /** Starts a scenario's section. */
  section(title: string): void;
  /** A line of narration. */
  line(text: string): void;
  /** A check that held. */
  ok(text: string): void;
  /** A check that did not hold: the demo exits non-zero at the end. */
  fail(text: string): void;
  /** A small aligned table. */
  table(rows: ReadonlyArray<Record<string, string | number | boolean>>): void;
  /** Rewrites one progress line in place (a TTY), or prints it once (a log). */
  progress(text: string): void;
  /** How many checks failed so far. */
  readonly failures: number;
}

/** Creates the demo's report, writing to `out` (progress lines are rewritten in place only on a TTY). */
export function createReport(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Report {
  let failures = 0;
  let progressOpen = false;
  const write = (text: string) => {
    if (progressOpen) {
      out.write('\n');
      progressOpen = false;
    }
    out.write(`${text}\n`);
  };
  return {
    section(title) {
      write(`\n== ${title} ${'='.repeat(Math.max(3, 72 - title.length))}`);
    },
    line: (text) => write(`   ${text}`),
    ok: (text) => write(` ✓ ${text}`),
    fail(text) {
      failures++;
      write(` ✗ ${text}`);
    },
    table(rows) {
      const first = rows[0];
      if (!first) return;
      const cols = Object.keys(first);
      const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
      const fmt = (cells: string[]) => `   ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd();
      write(fmt(cols));
      write(fmt(widths.map((w) => '-'.repeat(w))));
      for (const r of rows) write(fmt(cols.map((c) => String(r[c] ?? ''))));
    },
    progress(text) {
      if (out.isTTY) {
        out.write(`\r   ${text}\x1b[K`);
        progressOpen = true;
      }
    },
    get failures() {
      return failures;
    },
  };
}

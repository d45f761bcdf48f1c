import { quoteIdent } from './sql';

/**
 * Shared pieces of the drivers' `copyFrom` (the optional bulk-load
 * capability of `SqlExecutor`). @internal
 */

/** `COPY table ("a", "b") FROM <from>`, text format. */
export function copyStatement(table: string, columns: readonly string[], from: string): string {
  return `COPY ${table} (${columns.map(quoteIdent).join(', ')}) FROM ${from}`;
}

/** The part of a Node writable stream the COPY streams of node-postgres and postgres.js offer. */
export interface CopySink {
  write(chunk: string): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
  once(event: 'drain' | 'finish' | 'close', listener: () => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
}

/**
 * Writes the chunks to a COPY stream, waiting on back-pressure, and resolves
 * when the server has confirmed the COPY (`finish`). A chunk source that
 * throws destroys the stream, which makes the driver abort the COPY (the
 * server rolls the statement back), and the error is rethrown. No
 * `node:stream` import, so the module also loads where only the driver
 * brings streams (Deno, Bun, Workers with postgres.js).
 */
export async function writeCopy(sink: CopySink, data: Iterable<string> | AsyncIterable<string>): Promise<void> {
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  const onError = (error: Error) => {
    failed ??= error;
    wake?.();
  };
  sink.once('error', onError);
  const wait = (event: 'drain' | 'finish') =>
    new Promise<void>((resolve) => {
      wake = resolve;
      sink.once(event, resolve);
    }).finally(() => {
      wake = undefined;
    });
  try {
    for await (const chunk of data) {
      if (failed) break;
      if (chunk.length > 0 && !sink.write(chunk)) await wait('drain');
    }
  } catch (error) {
    sink.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
  if (!failed) {
    const finished = wait('finish');
    sink.end();
    await finished;
  }
  if (failed) throw failed;
}

/**
 * The COPY text of a chunk for the staging table (ord, external_id, hash,
 * data): tab-separated, one record per line (decision 1000).
 */

/** Rows per chunk of COPY text handed to the driver. */
const ROWS_PER_CHUNK = 256;

const SPECIAL = /[\\\t\n\r]/;

/** A text value escaped for COPY's text format (backslash, tab, newline, carriage return). */
export function copyField(value: string): string {
  if (!SPECIAL.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * JSON.stringify's output escaped for COPY: it never holds a raw tab,
 * newline or carriage return (JSON escapes them inside strings), so only
 * backslashes are doubled.
 */
function copyJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/**
 * Chunks of COPY text for records `i` = (ids[i], hashes[i], data[i]): for
 * the staging table `ord, external_id, hash, data` (ord = i); with `row`
 * given (the table id and the run id), for `sync_rows` directly:
 * `table_id, external_id, hash, data, run_id`.
 */
export function* copyRows(
  ids: readonly string[],
  hashes: readonly string[],
  data: readonly string[],
  row?: { tableId: number; runId: number | null },
): Generator<string, void, undefined> {
  const tail = row ? `\t${row.runId ?? '\\N'}\n` : '\n';
  for (let start = 0; start < ids.length; start += ROWS_PER_CHUNK) {
    const end = Math.min(start + ROWS_PER_CHUNK, ids.length);
    let chunk = '';
    for (let i = start; i < end; i++) {
      chunk += `${row ? row.tableId : i}\t${copyField(ids[i] as string)}\t${hashes[i]}\t${copyJson(data[i] as string)}${tail}`;
    }
    yield chunk;
  }
}

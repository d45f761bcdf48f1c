/**
 * The COPY text of a chunk for the staging table (ord, external_id, hash,
 * data): tab-separated, one record per line (decision 1000).
 */

/**
 * Characters of COPY text per chunk handed to the driver: under V8's
 * large-object size (128 KiB), so a chunk is a young allocation that dies in
 * the next scavenge instead of waiting in large-object space for a full
 * collection (decision 1000).
 */
const CHUNK_CHARS = 48 * 1024;

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
  let chunk = '';
  for (let i = 0; i < ids.length; i++) {
    chunk += `${row ? row.tableId : i}\t${copyField(ids[i] as string)}\t${hashes[i]}\t${copyJson(data[i] as string)}${tail}`;
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

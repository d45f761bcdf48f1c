import { wellFormed } from '../internal/encoding';
import { type SqlExecutor, sqlNames } from '../stores/sql';
import type {
  ClaimedInboxEvent,
  ClaimRequest,
  InboxAttempt,
  InboxCounts,
  InboxDriver,
  InboxEvent,
  InboxEventKey,
  InboxFilter,
  InboxListOptions,
  InboxPage,
  InboxStatus,
  InsertOptions,
  NewInboxEvent,
  PurgeRequest,
  Settlement,
} from './types';

/** Options for the SQL inbox driver. */
export interface SqlInboxDriverOptions {
  /**
   * Schema holding the `inbox_events` table (created by `migrate(db, { schema })`).
   * @default 'ballast'
   */
  schema?: string;
}

interface Row {
  id: string;
  source: string;
  event_id: string;
  type: string;
  payload: unknown;
  raw_body: string | null;
  headers: Record<string, string> | null;
  status: InboxStatus;
  attempts: number;
  last_error: string | null;
  received_at: Date;
  updated_at: Date;
  next_attempt_at: Date | null;
  lease_owner: string | null;
  lease_until: Date | null;
  processed_at: Date | null;
  replays: number;
  attempt_log:
    | { attempt: number; startedAt: string; endedAt: string; outcome: InboxAttempt['outcome']; error: string | null }[]
    | null;
}

const FIELDS = [
  'source',
  'event_id',
  'type',
  'payload',
  'raw_body',
  'headers',
  'status',
  'attempts',
  'last_error',
  'received_at',
  'updated_at',
  'next_attempt_at',
  'lease_owner',
  'lease_until',
  'processed_at',
  'replays',
  'attempt_log',
];
/** The selected columns, optionally qualified with a table alias. */
const columns = (alias = '') => [`${alias}id::text AS id`, ...FIELDS.map((f) => `${alias}${f}`)].join(', ');
const COLUMNS = columns();

const date = (value: Date | string | null): Date | null =>
  value === null ? null : value instanceof Date ? value : new Date(value);

function toEvent(row: Row): InboxEvent {
  return {
    source: row.source,
    id: row.event_id,
    type: row.type,
    payload: row.payload,
    rawBody: row.raw_body ?? null,
    headers: row.headers ?? null,
    status: row.status,
    attempts: Number(row.attempts),
    lastError: row.last_error,
    receivedAt: date(row.received_at) as Date,
    updatedAt: date(row.updated_at) as Date,
    nextAttemptAt: date(row.next_attempt_at),
    leaseOwner: row.lease_owner,
    leaseUntil: date(row.lease_until),
    processedAt: date(row.processed_at),
    replays: Number(row.replays ?? 0),
    history: (row.attempt_log ?? []).map((a) => ({
      attempt: a.attempt,
      startedAt: new Date(a.startedAt),
      endedAt: new Date(a.endedAt),
      outcome: a.outcome,
      error: a.error,
    })),
  };
}

/** Appends `WHERE`-able conditions for a filter to `params`, returning the SQL fragments. */
function filterSql(filter: InboxFilter, params: unknown[]): string[] {
  const where: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.source !== undefined) add((p) => `source = ${p}`, filter.source);
  if (filter.type !== undefined) add((p) => `type = ${p}`, filter.type);
  if (filter.status !== undefined) {
    const statuses = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
    add((p) => `status = ANY(${p}::text[])`, statuses);
  }
  if (filter.ids !== undefined) add((p) => `event_id = ANY(${p}::text[])`, [...filter.ids]);
  return where;
}

const whereClause = (parts: string[]) => (parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`);

/**
 * A text value as a JSON string, lone surrogates as U+FFFD, as the driver's
 * UTF-8 encoding of a text parameter makes them (JSON would carry an escape
 * the server refuses).
 */
const text = (value: string): string => JSON.stringify(wellFormed(value));

/**
 * The events of one insert as one JSON array, read by `jsonb_to_recordset`:
 * one parameter the server parses once (each payload then is a part of it,
 * not parsed again), where six text arrays cost the driver an escaping pass
 * over every payload and raw body (about 2 µs an event) and the server an
 * array parse and a `jsonb` cast per payload. Payloads go in as the JSON
 * they already are.
 */
function batchJson(events: readonly NewInboxEvent[]): string {
  let json = '[';
  for (const e of events) {
    if (json.length > 1) json += ',';
    json += `{"s":${text(e.source)},"i":${text(e.id)},"t":${text(e.type)},"p":${e.payloadJson},"r":${
      e.rawBody === null ? 'null' : text(e.rawBody)
    },"h":${e.headers === null ? 'null' : JSON.stringify(e.headers)}}`;
  }
  return `${json}]`;
}

/**
 * The inbox driver for PGlite and Postgres: one table, `inbox_events`, unique on
 * `(source, event_id)`. Inserts are one multi-row `INSERT ... ON CONFLICT DO
 * NOTHING RETURNING`; claims are `FOR UPDATE SKIP LOCKED`, so many processes can
 * share the table.
 *
 * @example
 * ```ts
 * const driver = sqlInboxDriver(db, { schema: 'ballast' });
 * ```
 */
export function sqlInboxDriver(db: SqlExecutor, options: SqlInboxDriverOptions = {}): InboxDriver {
  const table = sqlNames(options.schema).table('inbox_events');

  const insertSql = `INSERT INTO ${table}
  (source, event_id, type, payload, raw_body, headers, status, attempts, received_at, updated_at, next_attempt_at)
SELECT u.s, u.i, u.t, u.p, u.r, u.h, 'received', 0, $2, $2, $2
FROM jsonb_to_recordset($1::jsonb) AS u(s text, i text, t text, p jsonb, r text, h jsonb)
ON CONFLICT (source, event_id) DO NOTHING
RETURNING source, event_id`;

  return {
    async insert(events: readonly NewInboxEvent[], now: Date, options: InsertOptions = {}): Promise<boolean[]> {
      if (events.length === 0) return [];
      // payloads arrive serialized (in each caller's step), so nothing here can throw for one event's data
      const res = await (options.tx ?? db).query<{ source: string; event_id: string }>(insertSql, [
        batchJson(events),
        now,
      ]);
      const stored = new Set(res.rows.map((r) => `${r.source}\u0000${r.event_id}`));
      // the rows come back with the stored texts: compare with the same, or a lone surrogate reads as a duplicate
      return events.map((e) => stored.has(`${wellFormed(e.source)}\u0000${wellFormed(e.id)}`));
    },

    async claim(request: ClaimRequest): Promise<ClaimedInboxEvent[]> {
      const params: unknown[] = [request.source, request.now, request.owner, request.leaseUntil, request.limit];
      let only = '';
      if (request.id !== undefined) {
        params.push(request.id);
        only = `AND event_id = $${params.length}`;
      }
      const res = await db.query<Row>(
        `WITH due AS (
           SELECT id FROM ${table}
           WHERE source = $1 ${only} AND status IN ('received', 'failed', 'processing') AND next_attempt_at <= $2
           ORDER BY next_attempt_at, id
           LIMIT $5
           FOR UPDATE SKIP LOCKED
         )
         UPDATE ${table} AS e
         SET status = 'processing', attempts = e.attempts + 1, lease_owner = $3, lease_until = $4,
             next_attempt_at = $4, updated_at = $2
         FROM due WHERE e.id = due.id
         RETURNING ${columns('e.')}`,
        params,
      );
      return res.rows.map((row) => toEvent(row) as ClaimedInboxEvent).sort(byReceived);
    },

    async extend(key: InboxEventKey, owner: string, leaseUntil: Date, now: Date): Promise<boolean> {
      const res = await db.query(
        `UPDATE ${table} SET lease_until = $4, next_attempt_at = $4, updated_at = $5
         WHERE source = $1 AND event_id = $2 AND lease_owner = $3 AND status = 'processing'`,
        [key.source, key.id, owner, leaseUntil, now],
      );
      return res.rowCount > 0;
    },

    bind: (executor: SqlExecutor) => sqlInboxDriver(executor, options),

    async settle(
      key: InboxEventKey,
      owner: string,
      outcome: Settlement,
      now: Date,
      attempt?: InboxAttempt,
    ): Promise<boolean> {
      const error = outcome.status === 'processed' ? null : outcome.error;
      const next = outcome.status === 'failed' || outcome.status === 'deferred' ? outcome.nextAttemptAt : null;
      const processedAt = outcome.status === 'processed' ? now : null;
      // deferred: the attempt never started, so its count is given back
      const res = await db.query(
        `UPDATE ${table}
         SET status = CASE WHEN $4 <> 'deferred' THEN $4 WHEN attempts > 1 THEN 'failed' ELSE 'received' END,
             attempts = CASE WHEN $4 = 'deferred' THEN GREATEST(attempts - 1, 0) ELSE attempts END,
             last_error = COALESCE($5, last_error), next_attempt_at = $6, processed_at = $7,
             lease_owner = NULL, lease_until = NULL, updated_at = $8,
             attempt_log = CASE WHEN $9::jsonb IS NULL THEN attempt_log ELSE attempt_log || $9::jsonb END
         WHERE source = $1 AND event_id = $2 AND lease_owner = $3 AND status = 'processing'`,
        [
          key.source,
          key.id,
          owner,
          outcome.status,
          error,
          next,
          processedAt,
          now,
          attempt === undefined ? null : JSON.stringify([attempt]),
        ],
      );
      return res.rowCount > 0;
    },

    async replay(filter: InboxFilter, now: Date): Promise<InboxEventKey[]> {
      const params: unknown[] = [now];
      const where = filterSql(filter, params);
      const res = await db.query<{ source: string; event_id: string }>(
        `UPDATE ${table}
         SET status = 'received', attempts = 0, next_attempt_at = $1, lease_owner = NULL, lease_until = NULL,
             replays = replays + CASE WHEN status = 'processed' THEN 1 ELSE 0 END, updated_at = $1
         ${whereClause(where)}
         RETURNING source, event_id`,
        params,
      );
      return res.rows.map((r) => ({ source: r.source, id: r.event_id }));
    },

    async purge(request: PurgeRequest): Promise<number> {
      const params: unknown[] = [[...request.statuses], request.before, request.limit];
      let bySource = '';
      if (request.source !== undefined) {
        params.push(request.source);
        bySource = `AND source = $${params.length}`;
      }
      // The outer conditions are checked again on the row being deleted: a row a replay revived
      // after the subquery read it (and whose lock the DELETE waited for) no longer matches them.
      const res = await db.query(
        `DELETE FROM ${table} WHERE id IN (
           SELECT id FROM ${table}
           WHERE status = ANY($1::text[]) AND updated_at < $2 ${bySource}
           ORDER BY updated_at, id LIMIT $3
         ) AND status = ANY($1::text[]) AND updated_at < $2`,
        params,
      );
      return res.rowCount;
    },

    async get(key: InboxEventKey): Promise<InboxEvent | null> {
      const res = await db.query<Row>(`SELECT ${COLUMNS} FROM ${table} WHERE source = $1 AND event_id = $2`, [
        key.source,
        key.id,
      ]);
      const row = res.rows[0];
      return row ? toEvent(row) : null;
    },

    async list(options: InboxListOptions): Promise<InboxPage> {
      const params: unknown[] = [];
      const where = filterSql(options, params);
      if (options.cursor !== undefined) {
        params.push(options.cursor);
        where.push(`id > $${params.length}::bigint`);
      }
      const limit = options.limit ?? 100;
      params.push(limit + 1);
      const res = await db.query<Row>(
        `SELECT ${COLUMNS} FROM ${table} ${whereClause(where)} ORDER BY id LIMIT $${params.length}`,
        params,
      );
      const rows = res.rows.slice(0, limit);
      const last = rows[rows.length - 1];
      return {
        events: rows.map(toEvent),
        nextCursor: res.rows.length > limit && last ? last.id : null,
      };
    },

    async counts(filter: InboxFilter): Promise<InboxCounts> {
      const params: unknown[] = [];
      const res = await db.query<{ status: InboxStatus; n: number }>(
        `SELECT status, count(*)::int AS n FROM ${table} ${whereClause(filterSql(filter, params))} GROUP BY status`,
        params,
      );
      const counts: InboxCounts = { received: 0, processing: 0, processed: 0, failed: 0, dead: 0, total: 0 };
      for (const r of res.rows) {
        counts[r.status] = Number(r.n);
        counts.total += Number(r.n);
      }
      return counts;
    },
  };
}

const byReceived = (a: InboxEvent, b: InboxEvent) => a.receivedAt.getTime() - b.receivedAt.getTime();

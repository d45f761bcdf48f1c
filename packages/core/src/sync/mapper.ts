import type { ZodType } from 'zod';
import { describe, fn, integer, optional, readFields, required, text, withDefault } from '../internal/fields';
import { type SqlExecutor, sqlNames } from '../stores/sql';
import { describeIssues, isSyncError, SyncError } from './errors';
import type { SyncTable } from './sync-table';

/** Where a raw row came from, handed to `map` and `onDelete`. */
export interface RawRowRef {
  /** The provider's id of the record. */
  externalId: string;
  /** The tenant. */
  tenant: string;
  /** The provider. */
  source: string;
  /** The provider's entity. */
  entity: string;
  /** When the record's content last changed (or when it was deleted). */
  changedAt: Date;
}

/** Options of {@link mapper}. */
export interface MapperOptions<Raw, Row> {
  /**
   * The mapper's name: its position and quarantine are kept under it, per
   * table. Two mappers reading one table need different names.
   * @default 'default'
   */
  name?: string;
  /** Validates a raw payload; a payload that fails is quarantined. */
  schema: ZodType<Raw>;
  /**
   * The mapping's version, a positive integer. Raising it re-projects every
   * raw row (and so retries every quarantined one). Versions only go up: a
   * mapper older than the version recorded for the table refuses to run.
   */
  version: number;
  /**
   * Maps one validated raw payload to the app's row or rows (an empty array
   * for none). A throw quarantines the raw row.
   */
  map(raw: Raw, ref: RawRowRef): Row | readonly Row[] | Promise<Row | readonly Row[]>;
  /**
   * Writes one batch of mapped rows into the app's tables, inside the batch's
   * transaction. It should upsert: a re-projection writes rows again.
   */
  write(rows: Row[], tx: SqlExecutor): Promise<void>;
  /**
   * Removes what soft-deleted raw rows projected to, inside the batch's
   * transaction. Without it, deletions are skipped.
   */
  onDelete?(deleted: RawRowRef[], tx: SqlExecutor): Promise<void>;
  /**
   * Raw rows per batch (one transaction each).
   * @default 500
   */
  batchSize?: number;
}

/** Options of `Mapper.run`. */
export interface MapperRunOptions {
  /** Stops between batches; the position of every committed batch is kept. */
  signal?: AbortSignal;
}

/** What one `Mapper.run` did. */
export interface MapperRunResult {
  /** True when the run started over from the first raw row: first run, or a new `version`. */
  reprojected: boolean;
  /** Batches committed. */
  batches: number;
  /** Raw rows read. */
  processed: number;
  /** App rows handed to `write`. */
  written: number;
  /** Soft-deleted raw rows handed to `onDelete` (or skipped without it). */
  deleted: number;
  /** Raw rows quarantined by this run. */
  quarantined: number;
  /** Previously quarantined raw rows that mapped cleanly this time. */
  released: number;
}

/** A raw row a mapper could not handle, with why. */
export interface QuarantineEntry {
  /** The provider's id of the record. */
  externalId: string;
  /** The mapper version that failed on it. */
  mapperVersion: number;
  /** `validate`: the schema rejected the payload; `map`: `map` threw. */
  stage: 'validate' | 'map';
  /** The error, one line. */
  error: string;
  /** The schema's issues, for `validate`. */
  issues: Array<{ path: Array<string | number>; message: string; code?: string }> | null;
  /** The raw payload as stored. */
  data: unknown;
  /** When it was quarantined. */
  quarantinedAt: Date;
}

/** A projection from a sync table into the app's tables. */
export interface Mapper {
  /** The mapper's name. */
  readonly name: string;
  /** The mapping's version. */
  readonly version: number;
  /**
   * Projects the raw rows changed since this mapper's position on `table`
   * (every row, when the version changed), batch by batch, one transaction
   * per batch: mapped rows go to `write`, deletions to `onDelete`, failures
   * to quarantine, and the position advances with the batch.
   *
   * @throws {SyncError} `write_failed` when `write` or `onDelete` throws (the
   * batch is rolled back and the position stays), `store_failed`, `aborted`.
   */
  run(table: SyncTable, options?: MapperRunOptions): Promise<MapperRunResult>;
  /** The raw rows of `table` this mapper has quarantined, oldest first. */
  quarantined(table: SyncTable, options?: { limit?: number }): Promise<QuarantineEntry[]>;
  /** How many raw rows of `table` this mapper has quarantined. */
  quarantineCount(table: SyncTable): Promise<number>;
}

const optionsFields = {
  name: withDefault(text(1, 200), 'default'),
  schema: required<unknown>((v) =>
    v !== null && typeof v === 'object' && typeof (v as { safeParse?: unknown }).safeParse === 'function'
      ? undefined
      : `must be a zod schema (an object with safeParse), got ${describe(v)}`,
  ),
  version: required<number>(integer(1)),
  map: required<unknown>(fn),
  write: required<unknown>(fn),
  onDelete: optional<unknown>(fn),
  batchSize: withDefault(integer(1, 10_000), 500),
};

interface RawRecord {
  external_id: string;
  data: unknown;
  deleted_at: Date | null;
  changed_at: Date;
  change_seq: string | number;
}

interface Failure {
  id: string;
  stage: 'validate' | 'map';
  error: string;
  issues: string | null;
  seq: number;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Defines a mapper: validates raw payloads with `schema`, maps them with
 * `map`, and writes the result with `write`. Nothing runs until `run(table)`.
 *
 * @example
 * ```ts
 * const contacts = mapper({
 *   schema: z.object({ id: z.number(), name: z.string(), emails: z.array(z.object({ value: z.string() })) }),
 *   version: 1,
 *   map: (p) => ({ id: p.id, name: p.name, email: p.emails[0]?.value ?? null }),
 *   write: async (rows, tx) => {
 *     for (const r of rows) await tx.query('INSERT INTO contacts ... ON CONFLICT (id) DO UPDATE ...', [r.id, r.name, r.email]);
 *   },
 *   onDelete: async (refs, tx) => {
 *     await tx.query('DELETE FROM contacts WHERE id = ANY($1::int[])', [refs.map((r) => Number(r.externalId))]);
 *   },
 * });
 * await contacts.run(persons); // persons = syncTable(db, { source: 'pipedrive', entity: 'persons' })
 * ```
 * @throws {SyncError} `invalid_options` for a bad option.
 */
export function mapper<Raw, Row>(options: MapperOptions<Raw, Row>): Mapper {
  if (options === null || typeof options !== 'object') {
    throw new SyncError('mapper', 'invalid_options', 'options must be an object');
  }
  const parsed = readFields(options, optionsFields);
  if (!parsed.ok) throw new SyncError('mapper', 'invalid_options', `invalid options: ${parsed.problems.join('; ')}`);
  const { name, version, batchSize } = parsed.value;
  const schema = options.schema;
  const map = options.map;
  const write = options.write;
  const onDelete = options.onDelete;

  async function tables(table: SyncTable, api: string) {
    if (table === null || typeof table !== 'object' || typeof table.tableId !== 'function') {
      throw new SyncError(api, 'invalid_options', 'table must be a SyncTable (syncTable(db, ...))');
    }
    const names = sqlNames(table.schema);
    const id = await table.tableId();
    return {
      db: table.db,
      key: [name, id] as const,
      ref: { tenant: table.tenant, source: table.source, entity: table.entity },
      rows: names.table('sync_rows'),
      mappers: names.table('sync_mappers'),
      quarantine: names.table('sync_quarantine'),
    };
  }

  async function guard<R>(api: string, fn: () => Promise<R>): Promise<R> {
    try {
      return await fn();
    } catch (error) {
      if (isSyncError(error)) throw error;
      throw new SyncError(api, 'store_failed', `the database refused a statement: ${errorMessage(error)}`, {
        cause: error,
      });
    }
  }

  /** Validates and maps one raw row. */
  async function project(
    raw: RawRecord,
    ref: RawRowRef,
  ): Promise<{ rows: readonly Row[] } | { failure: Omit<Failure, 'id' | 'seq'> }> {
    let checked: ReturnType<typeof schema.safeParse>;
    try {
      checked = schema.safeParse(raw.data);
    } catch (error) {
      // e.g. a schema with async refinements, which safeParse cannot run
      return { failure: { stage: 'validate', error: errorMessage(error), issues: null } };
    }
    if (!checked.success) {
      const issues = checked.error.issues.map((i) => ({
        path: i.path.map((p) => (typeof p === 'number' ? p : String(p))),
        message: i.message,
        code: i.code,
      }));
      return {
        failure: { stage: 'validate', error: describeIssues(checked.error.issues), issues: JSON.stringify(issues) },
      };
    }
    try {
      const out = await map(checked.data, ref);
      if (out === undefined || out === null) {
        return {
          failure: { stage: 'map', error: `map returned ${String(out)} (return [] to project nothing)`, issues: null },
        };
      }
      return { rows: Array.isArray(out) ? (out as readonly Row[]) : [out as Row] };
    } catch (error) {
      return { failure: { stage: 'map', error: errorMessage(error), issues: null } };
    }
  }

  async function countQuarantine(table: SyncTable): Promise<number> {
    const t = await tables(table, 'mapper.quarantineCount');
    return guard('mapper.quarantineCount', async () => {
      const res = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${t.quarantine} WHERE mapper = $1 AND table_id = $2`,
        t.key,
      );
      return res.rows[0]?.n ?? 0;
    });
  }

  return {
    name,
    version,

    async run(table, runOptions = {}) {
      const t = await tables(table, 'mapper.run');
      const { tenant, source, entity } = t.ref;
      const result: MapperRunResult = {
        reprojected: false,
        batches: 0,
        processed: 0,
        written: 0,
        deleted: 0,
        quarantined: 0,
        released: 0,
      };

      // claim the position: a new mapper or a newer version starts from the first raw row;
      // versions only move up, so an old process still running during a deploy cannot
      // reset a newer version's position (it gets run_conflict below)
      result.reprojected = await guard('mapper.run', async () => {
        const res = await t.db.query<{ reset: boolean }>(
          `INSERT INTO ${t.mappers} AS m (name, table_id, version, position)
           VALUES ($1, $2, $3, 0)
           ON CONFLICT (name, table_id) DO UPDATE SET version = excluded.version, position = 0, updated_at = now()
           WHERE m.version < excluded.version
           RETURNING true AS reset`,
          [...t.key, version],
        );
        return res.rows.length > 0;
      });

      for (;;) {
        if (runOptions.signal?.aborted) {
          throw new SyncError('mapper.run', 'aborted', `mapper ${name} was aborted after ${result.batches} batches`, {
            cause: runOptions.signal.reason,
          });
        }
        const done = await guard('mapper.run', () =>
          t.db.transaction(async (tx) => {
            const state = await tx.query<{ version: number; position: string | number }>(
              `SELECT version, position FROM ${t.mappers} WHERE name = $1 AND table_id = $2 FOR UPDATE`,
              t.key,
            );
            const current = state.rows[0];
            if (!current || current.version !== version) {
              throw new SyncError(
                'mapper.run',
                'run_conflict',
                `mapper ${name} is at version ${current?.version ?? 'none'} in the database; this process runs version ${version}`,
              );
            }
            const batch = await tx.query<RawRecord>(
              `SELECT external_id, data, deleted_at, changed_at, change_seq FROM ${t.rows}
               WHERE table_id = $1 AND change_seq > $2
               ORDER BY change_seq LIMIT $3`,
              [t.key[1], current.position, batchSize],
            );
            if (batch.rows.length === 0) return true;

            const mapped: Row[] = [];
            const removed: RawRowRef[] = [];
            const cleared: string[] = [];
            const failures: Failure[] = [];
            for (const raw of batch.rows) {
              const ref: RawRowRef = {
                externalId: raw.external_id,
                tenant,
                source,
                entity,
                changedAt: raw.deleted_at ?? raw.changed_at,
              };
              if (raw.deleted_at !== null) {
                removed.push(ref);
                cleared.push(raw.external_id);
                continue;
              }
              const out = await project(raw, ref);
              if ('failure' in out) {
                failures.push({ ...out.failure, id: raw.external_id, seq: Number(raw.change_seq) });
              } else {
                for (const row of out.rows) mapped.push(row);
                cleared.push(raw.external_id);
              }
            }

            try {
              if (mapped.length > 0) await write(mapped, tx);
              if (removed.length > 0 && onDelete) await onDelete(removed, tx);
            } catch (error) {
              throw new SyncError(
                'mapper.run',
                'write_failed',
                `mapper ${name} v${version}: ${mapped.length > 0 ? 'write' : 'onDelete'} threw, batch rolled back: ${errorMessage(error)}`,
                { cause: error },
              );
            }

            if (failures.length > 0) {
              await tx.query(
                `INSERT INTO ${t.quarantine} (mapper, table_id, external_id, mapper_version, stage, error, issues, change_seq)
                 SELECT $1, $2, f.id, $3, f.stage, f.error, f.issues::jsonb, f.seq
                 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[]) AS f(id, stage, error, issues, seq)
                 ON CONFLICT (mapper, table_id, external_id) DO UPDATE SET
                   mapper_version = excluded.mapper_version, stage = excluded.stage, error = excluded.error,
                   issues = excluded.issues, change_seq = excluded.change_seq, quarantined_at = now()`,
                [
                  ...t.key,
                  version,
                  failures.map((f) => f.id),
                  failures.map((f) => f.stage),
                  failures.map((f) => f.error),
                  failures.map((f) => f.issues),
                  failures.map((f) => f.seq),
                ],
              );
            }
            // Rows that mapped cleanly (or were deleted) leave the quarantine, whoever put them there:
            // the database is asked in this transaction, after the position's lock, not a count this
            // process kept (another process may have quarantined them since this run started). One
            // statement with the position update: no round trip added.
            const last = batch.rows[batch.rows.length - 1] as RawRecord;
            const moved = await tx.query<{ released: number }>(
              `WITH released AS (
                 DELETE FROM ${t.quarantine} WHERE mapper = $1 AND table_id = $2 AND external_id = ANY($4::text[])
                 RETURNING 1
               )
               UPDATE ${t.mappers} SET position = $3, updated_at = now() WHERE name = $1 AND table_id = $2
               RETURNING (SELECT count(*) FROM released)::int AS released`,
              [...t.key, last.change_seq, cleared],
            );
            const released = moved.rows[0]?.released ?? 0;
            result.batches++;
            result.processed += batch.rows.length;
            result.written += mapped.length;
            result.deleted += removed.length;
            result.quarantined += failures.length;
            result.released += released;
            return batch.rows.length < batchSize;
          }),
        );
        if (done) return result;
      }
    },

    async quarantined(table, listOptions = {}) {
      const t = await tables(table, 'mapper.quarantined');
      const limit = listOptions.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1) {
        throw new SyncError('mapper.quarantined', 'invalid_options', `limit must be a positive integer, got ${limit}`);
      }
      return guard('mapper.quarantined', async () => {
        const res = await t.db.query<{
          external_id: string;
          mapper_version: number;
          stage: 'validate' | 'map';
          error: string;
          issues: QuarantineEntry['issues'];
          data: unknown;
          quarantined_at: Date;
        }>(
          `SELECT q.external_id, q.mapper_version, q.stage, q.error, q.issues, r.data, q.quarantined_at
           FROM ${t.quarantine} q JOIN ${t.rows} r USING (table_id, external_id)
           WHERE q.mapper = $1 AND q.table_id = $2
           ORDER BY q.quarantined_at, q.external_id LIMIT $3`,
          [...t.key, limit],
        );
        return res.rows.map((r) => ({
          externalId: r.external_id,
          mapperVersion: r.mapper_version,
          stage: r.stage,
          error: r.error,
          issues: r.issues,
          data: r.data,
          quarantinedAt: r.quarantined_at,
        }));
      });
    },

    quarantineCount: countQuarantine,
  };
}

import { type SqlClient, type SqlExecutor, sqlNames } from '../stores/sql';
import { IdempotencyError, IdempotencyInProgressError } from './errors';
import {
  type ClaimOutcome,
  type ClaimRequest,
  type CompleteRequest,
  claimable,
  type ExtendRequest,
  type IdempotencyRecord,
  type IdempotencyState,
  type ReleaseRequest,
  type TransactionalIdempotencyStore,
  type VersionApplyRequest,
  type VersionStore,
} from './store';

/** Options of {@link sqlIdempotencyStore} and {@link sqlVersionStore}. */
export interface SqlIdempotencyStoreOptions {
  /**
   * Schema holding the tables, as given to `migrate(db, { schema })`.
   * @default 'ballast'
   */
  schema?: string;
}

interface Row {
  key: string;
  state: IdempotencyState;
  fingerprint: string | null;
  token: string;
  value: string | null;
  claims: number;
  lease_until: number;
  expires_at: number;
  created_at: number;
  updated_at: number;
}

const ms = (column: string) => `round(extract(epoch FROM ${column}) * 1000)::float8 AS ${column}`;
const COLUMNS = [
  'key',
  'state',
  'fingerprint',
  'token',
  'value',
  'claims',
  ms('lease_until'),
  ms('expires_at'),
  ms('created_at'),
  ms('updated_at'),
].join(', ');

/** Validates the client and the schema name once, as typed errors. */
function tableName(api: string, db: SqlClient, options: SqlIdempotencyStoreOptions, table: string): string {
  if (typeof db?.query !== 'function' || typeof db.transaction !== 'function') {
    throw new IdempotencyError(
      api,
      'invalid_options',
      'db must be a SqlClient (createPGlite(), createPostgres(), ...)',
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new IdempotencyError(api, 'invalid_options', 'options must be an object');
  }
  try {
    return sqlNames(options.schema).table(table);
  } catch (cause) {
    throw new IdempotencyError(
      api,
      'invalid_options',
      `schema must be a plain SQL identifier, got ${JSON.stringify(options.schema)}`,
      { cause },
    );
  }
}

const iso = (time: number) => new Date(time).toISOString();

function toRecord(row: Row): IdempotencyRecord {
  return {
    key: row.key,
    state: row.state,
    fingerprint: row.fingerprint,
    token: row.token,
    value: row.value,
    claims: Number(row.claims),
    leaseUntil: Number(row.lease_until),
    expiresAt: Number(row.expires_at),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** How many rows one purge statement deletes at most, so a large purge never holds long locks. */
const PURGE_BATCH = 1000;
/** Claim rounds before giving up when the row keeps vanishing between the claim and the read. */
const CLAIM_ROUNDS = 10;

/**
 * The idempotency store on SQL: PGlite and Postgres share it. A claim is an
 * `INSERT ... ON CONFLICT (key) DO NOTHING` (the primary key decides, so two
 * processes can never both hold a key), and a takeover a compare-and-set on
 * the token it read; completion, release and extension are fenced by the
 * claim token. Supports `transactional: true` in `idempotent()`.
 *
 * Run `migrate(db)` first (it creates `<schema>.idempotency_keys`).
 *
 * @example
 * ```ts
 * import { idempotent } from '@ballast/core/idempotency';
 * import { migrate, sqlIdempotencyStore } from '@ballast/core/stores/sql';
 * import { createPGlite } from '@ballast/core/stores/pglite';
 *
 * const db = await createPGlite();
 * await migrate(db);
 * const store = sqlIdempotencyStore(db);
 * const send = idempotent(async (id: string) => ({ sent: id }), { store, key: (id) => `email:${id}` });
 * ```
 */
export function sqlIdempotencyStore(
  db: SqlClient,
  options: SqlIdempotencyStoreOptions = {},
): TransactionalIdempotencyStore {
  const table = tableName('sqlIdempotencyStore', db, options, 'idempotency_keys');

  // A new key is claimed and a finished one read in one round trip. DO NOTHING
  // leaves the existing row unlocked, so a replay writes nothing (DO UPDATE
  // would lock the row, which costs a WAL write and a commit flush per replay).
  // The second SELECT reads the statement's snapshot: a row committed by a
  // concurrent claim while this statement ran can be missing, and then no row
  // comes back and claim() tries again.
  const claimSql = `
WITH inserted AS (
  INSERT INTO ${table} (key, state, fingerprint, token, value, claims, lease_until, expires_at, created_at, updated_at)
  VALUES ($1, 'running', $2, $3, NULL, 1, $5::timestamptz, $6::timestamptz, $4::timestamptz, $4::timestamptz)
  ON CONFLICT (key) DO NOTHING
  RETURNING ${COLUMNS}
)
SELECT true AS claimed, * FROM inserted
UNION ALL
SELECT false AS claimed, ${COLUMNS} FROM ${table} WHERE key = $1 AND NOT EXISTS (SELECT 1 FROM inserted)`;
  // Replaces a dead record or takes over an expired lease: a compare-and-set on
  // the token that was read, with the rules of claimable() evaluated again on
  // the latest row version, so of several racing takeovers exactly one wins.
  const dead = `expires_at <= $4::timestamptz AND lease_until <= $4::timestamptz`;
  const takeoverSql = `
UPDATE ${table} SET
  state = 'running',
  fingerprint = $2,
  token = $3,
  value = NULL,
  claims = CASE WHEN ${dead} THEN 1 ELSE claims + 1 END,
  created_at = CASE WHEN ${dead} THEN $4::timestamptz ELSE created_at END,
  lease_until = $5::timestamptz,
  expires_at = $6::timestamptz,
  updated_at = $4::timestamptz
WHERE key = $1 AND token = $7
  AND ((${dead})
    OR (state = 'running' AND lease_until <= $4::timestamptz
        AND (fingerprint IS NULL OR $2::text IS NULL OR fingerprint = $2::text)))
RETURNING ${COLUMNS}`;
  const getSql = `SELECT ${COLUMNS} FROM ${table} WHERE key = $1`;
  const completeSql = `
UPDATE ${table} SET state = $3, value = $4, updated_at = $5::timestamptz, expires_at = $6::timestamptz
WHERE key = $1 AND token = $2 AND state = 'running'
RETURNING key`;
  const extendSql = `
UPDATE ${table} SET lease_until = $3::timestamptz, expires_at = GREATEST(expires_at, $4::timestamptz), updated_at = $5::timestamptz
WHERE key = $1 AND token = $2 AND state = 'running'
RETURNING key`;
  const releaseSql = `DELETE FROM ${table} WHERE key = $1 AND token = $2 AND state = 'running' RETURNING key`;
  // The outer conditions repeat the inner ones on purpose: a row re-claimed while
  // this statement waits for its lock is re-checked and spared.
  const expired = `expires_at <= $1::timestamptz AND (state <> 'running' OR lease_until <= $1::timestamptz)`;
  const purgeSql = `
DELETE FROM ${table}
WHERE key IN (SELECT key FROM ${table} WHERE ${expired} LIMIT ${PURGE_BATCH}) AND ${expired}`;

  function bound(q: SqlExecutor): TransactionalIdempotencyStore {
    async function readRecord(key: string): Promise<IdempotencyRecord | undefined> {
      const row = (await q.query<Row>(getSql, [key])).rows[0];
      return row && toRecord(row);
    }

    return {
      async claim(req: ClaimRequest): Promise<ClaimOutcome> {
        const params = [req.key, req.fingerprint, req.token, iso(req.now), iso(req.leaseUntil), iso(req.expiresAt)];
        for (let round = 0; round < CLAIM_ROUNDS; round++) {
          const row = (await q.query<Row & { claimed: boolean }>(claimSql, params)).rows[0];
          if (row?.claimed) return { claimed: true, takeover: false, record: toRecord(row) };
          // No row: one committed concurrently and escaped the snapshot; read it afresh.
          const existing = row ? toRecord(row) : await readRecord(req.key);
          if (existing === undefined) continue; // released or purged meanwhile: insert again
          const verdict = claimable(existing, req);
          if (verdict === false) return { claimed: false, record: existing };
          const taken = (await q.query<Row>(takeoverSql, [...params, existing.token])).rows[0];
          if (taken) return { claimed: true, takeover: verdict === 'takeover', record: toRecord(taken) };
          // Another claim changed the row first: look again.
        }
        throw new IdempotencyInProgressError('in_progress', req.key, req.now);
      },

      async complete(req: CompleteRequest): Promise<boolean> {
        const res = await q.query(completeSql, [
          req.key,
          req.token,
          req.state,
          req.value,
          iso(req.now),
          iso(req.expiresAt),
        ]);
        return res.rows.length === 1;
      },

      async release(req: ReleaseRequest): Promise<boolean> {
        return (await q.query(releaseSql, [req.key, req.token])).rows.length === 1;
      },

      async extend(req: ExtendRequest): Promise<boolean> {
        const params = [req.key, req.token, iso(req.leaseUntil), iso(req.expiresAt), iso(req.now)];
        return (await q.query(extendSql, params)).rows.length === 1;
      },

      get: readRecord,

      async purgeExpired(now = Date.now()): Promise<number> {
        let total = 0;
        for (;;) {
          const res = await q.query(purgeSql, [iso(now)]);
          total += res.rowCount;
          if (res.rowCount < PURGE_BATCH) return total;
        }
      },

      transaction: (fn) => db.transaction((tx) => fn(tx, bound(tx))),
    };
  }

  return bound(db);
}

/**
 * The version store for `versionGuard()` on SQL (PGlite and Postgres): one
 * `INSERT ... ON CONFLICT DO UPDATE ... WHERE excluded.version > version`
 * per update, so concurrent deliveries cannot both win. Pass `tx` to run it
 * inside the transaction of the handler's writes.
 *
 * Run `migrate(db)` first (it creates `<schema>.idempotency_versions`).
 */
export function sqlVersionStore(db: SqlClient, options: SqlIdempotencyStoreOptions = {}): VersionStore {
  const table = tableName('sqlVersionStore', db, options, 'idempotency_versions');
  const applySql = (op: '>' | '>=') => `
INSERT INTO ${table} AS cur (scope, object_id, version, updated_at) VALUES ($1, $2, $3::bigint, $4::timestamptz)
ON CONFLICT (scope, object_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
WHERE excluded.version ${op} cur.version
RETURNING 1 AS applied`;
  const newer = applySql('>');
  const newerOrEqual = applySql('>=');
  const getSql = `SELECT version::text AS version FROM ${table} WHERE scope = $1 AND object_id = $2`;

  return {
    async apply(req: VersionApplyRequest, tx?: SqlExecutor): Promise<boolean> {
      const res = await (tx ?? db).query(req.orEqual ? newerOrEqual : newer, [
        req.scope,
        req.objectId,
        String(req.version),
        iso(req.now),
      ]);
      return res.rows.length === 1;
    },
    async get(scope: string, objectId: string, tx?: SqlExecutor): Promise<number | undefined> {
      const row = (await (tx ?? db).query<{ version: string }>(getSql, [scope, objectId])).rows[0];
      return row === undefined ? undefined : Number(row.version);
    },
  };
}

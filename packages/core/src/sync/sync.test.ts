import { describe } from 'vitest';
import { describeWithPgBouncer } from '../../../../test-support/pgbouncer';
import { describeWithPostgres } from '../../../../test-support/services';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { createPostgresJs } from '../stores/postgresjs';
import { syncContract } from './sync-contract';

describe('sync on PGlite', () => {
  syncContract(() => createPGlite());
});

// every write of at least one record by COPY: the same contract through the staging table (decision 1000)
describe('sync on PGlite, writes by COPY', () => {
  syncContract(() => createPGlite(), { copyMinRows: 1 });
});

describeWithPostgres('sync', (url) => {
  syncContract(() => createPostgres({ connectionString: url, max: 4 }));
});

describeWithPostgres('sync, writes by COPY', (url) => {
  syncContract(() => createPostgres({ connectionString: url, max: 4 }), { copyMinRows: 1 });
});

// postgres.js has no copyFrom (decision 1000): copyMinRows falls back to INSERT
describeWithPostgres('sync on postgres.js', (url) => {
  syncContract(() => createPostgresJs(url, { max: 4 }), { copyMinRows: 1 });
});

describeWithPgBouncer('sync on postgres.js', (url) => {
  syncContract(() => createPostgresJs(url, { max: 4 }));
});

// the COPY path through the pooler: the staging table is per server connection, created and
// emptied inside the transaction that uses it, so any pooled connection serves
describeWithPgBouncer('sync, writes by COPY', (url) => {
  syncContract(() => createPostgres({ connectionString: url, max: 4 }), { copyMinRows: 1 });
});

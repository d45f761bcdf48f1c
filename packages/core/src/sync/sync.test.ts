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

describeWithPostgres('sync', (url) => {
  syncContract(() => createPostgres({ connectionString: url, max: 4 }));
});

describeWithPostgres('sync on postgres.js', (url) => {
  syncContract(() => createPostgresJs(url, { max: 4 }));
});

describeWithPgBouncer('sync on postgres.js', (url) => {
  syncContract(() => createPostgresJs(url, { max: 4 }));
});

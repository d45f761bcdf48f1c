import { describe } from 'vitest';
import { describeWithPostgres } from '../../../../test-support/services';
import { createPGlite } from '../stores/pglite';
import { createPostgres } from '../stores/postgres';
import { syncContract } from './sync-contract';

describe('sync on PGlite', () => {
  syncContract(() => createPGlite());
});

describeWithPostgres('sync', (url) => {
  syncContract(() => createPostgres({ connectionString: url, max: 4 }));
});

import type { Migration } from './index';

/** Tables of the `idempotency` module. */
export const idempotencyMigrations: Migration[] = [];

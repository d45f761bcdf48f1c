import type { Migration } from './index';

/** Tables of the `vault` module. */
export const vaultMigrations: Migration[] = [];

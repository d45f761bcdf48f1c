import type { Migration } from './index';

/** Tables of the `sync` module. */
export const syncMigrations: Migration[] = [];

import type { Migration } from './index';

/** Tables of the `inbox` module. */
export const inboxMigrations: Migration[] = [];

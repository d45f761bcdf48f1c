import type { Migration } from './index';

/** Tables of the `cache` module. */
export const cacheMigrations: Migration[] = [];

import type { Migration } from './index';

/** Tables of the `inbox` module. */
export const inboxMigrations: Migration[] = [
  {
    module: 'inbox',
    version: 1,
    name: 'inbox events',
    up: (names) => `
CREATE TABLE IF NOT EXISTS ${names.table('inbox_events')} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL,
  event_id text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processing', 'processed', 'failed', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  received_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  next_attempt_at timestamptz,
  lease_owner text,
  lease_until timestamptz,
  processed_at timestamptz,
  CONSTRAINT inbox_events_source_event_id_key UNIQUE (source, event_id)
);
CREATE INDEX IF NOT EXISTS inbox_events_due_idx ON ${names.table('inbox_events')} (source, next_attempt_at)
  WHERE status IN ('received', 'failed', 'processing');
CREATE INDEX IF NOT EXISTS inbox_events_attention_idx ON ${names.table('inbox_events')} (source, type, id)
  WHERE status IN ('failed', 'dead');
`,
  },
  {
    module: 'inbox',
    version: 2,
    name: 'inbox raw body, headers and purge index',
    // raw_body: the verified bytes (UTF-8), so an event can be verified again or forwarded and large
    // integers survive; headers: those the signature scheme read. The index serves the purge of
    // finished rows by (status, updated_at).
    up: (names) => `
ALTER TABLE ${names.table('inbox_events')} ADD COLUMN IF NOT EXISTS raw_body text;
ALTER TABLE ${names.table('inbox_events')} ADD COLUMN IF NOT EXISTS headers jsonb;
CREATE INDEX IF NOT EXISTS inbox_events_finished_idx ON ${names.table('inbox_events')} (status, updated_at);
`,
  },
  {
    module: 'inbox',
    version: 3,
    name: 'inbox attempt history and forced replays',
    // attempt_log: every attempt's number, start, end, outcome and error (not only the last);
    // replays: how many times a processed event was replayed with force, part of its run's
    // idempotency key so that a forced replay supersedes the finished record instead of replaying it.
    up: (names) => `
ALTER TABLE ${names.table('inbox_events')} ADD COLUMN IF NOT EXISTS attempt_log jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE ${names.table('inbox_events')} ADD COLUMN IF NOT EXISTS replays integer NOT NULL DEFAULT 0;
`,
  },
];

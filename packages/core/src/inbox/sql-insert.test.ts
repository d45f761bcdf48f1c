import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithPostgres } from '../../../../test-support/services';
import { migrate } from '../stores/migrate';
import { sqlInbox } from './sql';
import { sqlInboxDriver } from './sql-driver';
import { type PostgresDriver, pgliteDatabase, postgresDatabase, type TestDatabase } from './testdata/databases';
import type { InboxDriver, NewInboxEvent } from './types';

/**
 * The SQL driver sends a batch as one JSON document (`json_to_recordset`):
 * every text a provider can put in an event must come back as it went in.
 */

const tricky = [
  'plain',
  'quote " and \\ backslash, \\" both',
  'tab\tnewline\ncarriage\rreturn',
  'unicode: é ü 中文 👍 (a surrogate pair)',
  '{"looks":"like json"}',
  "single ' quote, comma, {braces}, [brackets], NULL",
];

function event(i: number, text: string): NewInboxEvent {
  const payload = { id: `evt_${i}`, type: `t.${i}`, text, nested: { text, list: [text, i] } };
  return {
    source: `src ${text}`,
    id: `evt_${i} ${text}`,
    type: `type ${text}`,
    payloadJson: JSON.stringify(payload),
    rawBody: JSON.stringify(payload, null, 2),
    headers: { 'x-signature': `v1=${text.replaceAll('\n', ' ')}`, 'content-type': 'application/json' },
  };
}

function insertSuite(open: () => Promise<TestDatabase>) {
  let t: TestDatabase;
  let driver: InboxDriver;
  beforeAll(async () => {
    t = await open();
    await migrate(t.db, { schema: t.schema, modules: ['inbox'] });
    driver = sqlInboxDriver(t.db, { schema: t.schema });
  });
  afterAll(async () => t?.drop());

  it('stores every text of a batch as it was sent: quotes, backslashes, control characters, unicode', async () => {
    const events = tricky.map((text, i) => event(i, text));
    const now = new Date('2026-01-02T03:04:05.678Z');
    expect(await driver.insert(events, now)).toEqual(events.map(() => true));
    for (const e of events) {
      const stored = await driver.get({ source: e.source, id: e.id });
      expect(stored, e.id).not.toBeNull();
      expect(stored?.type).toBe(e.type);
      expect(stored?.payload).toEqual(JSON.parse(e.payloadJson));
      expect(stored?.rawBody).toBe(e.rawBody);
      expect(stored?.headers).toEqual(e.headers);
      expect(stored?.status).toBe('received');
      expect(stored?.receivedAt.getTime()).toBe(now.getTime());
    }
  });

  it('answers false for duplicates, in the batch and across batches, in the order of the events', async () => {
    const a = event(100, 'dup');
    const b = event(101, 'new');
    expect(await driver.insert([a], new Date())).toEqual([true]);
    expect(await driver.insert([b, a, { ...b }], new Date())).toEqual([true, false, true]);
    // the second copy of b in the same statement is not stored twice
    const page = await driver.list({ source: b.source, limit: 10 });
    expect(page.events.map((e) => e.id)).toEqual([b.id]);
  });

  it('writes a lone surrogate in an id, type or raw body as U+FFFD (as a text parameter would), not failing the batch', async () => {
    const lone = { ...event(200, 'lone'), id: 'evt_\ud800_lone', type: 'type.\udc00', rawBody: '{"x":"\ud83d"}' };
    const fine = event(201, 'beside it');
    expect(await driver.insert([lone, fine], new Date())).toEqual([true, true]);
    const stored = await driver.get({ source: lone.source, id: 'evt_\ufffd_lone' });
    expect(stored?.type).toBe('type.\ufffd');
    expect(stored?.rawBody).toBe('{"x":"\ufffd"}');
    expect(await driver.get({ source: fine.source, id: fine.id })).not.toBeNull();
  });

  it('looks up a key with a NUL as not there, and refuses NUL or non-string filters with invalid_filter', async () => {
    const inbox = sqlInbox(t.db, { schema: t.schema });
    try {
      expect(await inbox.get('stripe', 'evt_\u0000nul')).toBeNull();
      expect(await inbox.get('str\u0000ipe', 'evt_1')).toBeNull();
      await expect(inbox.get('stripe', 42 as unknown as string)).rejects.toMatchObject({ code: 'invalid_filter' });
      await expect(inbox.list({ source: 'str\u0000ipe' })).rejects.toMatchObject({ code: 'invalid_filter' });
      await expect(inbox.counts({ ids: ['evt_\u0000'] })).rejects.toMatchObject({ code: 'invalid_filter' });
      await expect(inbox.list({ type: 'a\u0000' })).rejects.toMatchObject({ code: 'invalid_filter' });
    } finally {
      await inbox.close();
    }
  });

  it('keeps null raw bodies and headers null', async () => {
    const e = { ...event(300, 'nulls'), rawBody: null, headers: null };
    expect(await driver.insert([e], new Date())).toEqual([true]);
    const stored = await driver.get({ source: e.source, id: e.id });
    expect(stored?.rawBody).toBeNull();
    expect(stored?.headers).toBeNull();
  });
}

describe('SQL inbox insert on PGlite', () => {
  insertSuite(pgliteDatabase);
});

for (const d of ['pg', 'postgres.js'] as PostgresDriver[]) {
  describeWithPostgres(`SQL inbox insert on Postgres (${d})`, (url) => {
    insertSuite(() => postgresDatabase(url, 'inbox_insert', 2, d));
  });
}

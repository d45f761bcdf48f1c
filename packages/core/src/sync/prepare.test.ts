import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalizer } from './canonical';
import { cursorTime, pathReader, recordPreparer, storedJsonWriter } from './prepare';

describe('cursorTime', () => {
  it('reads Dates, ISO strings (UTC without an offset), and Unix seconds', () => {
    expect(cursorTime(new Date('2024-05-01T12:30:00Z'))).toBe(Date.parse('2024-05-01T12:30:00Z'));
    expect(cursorTime('2024-05-01T14:30:00+02:00')).toBe(Date.parse('2024-05-01T12:30:00Z'));
    expect(cursorTime('2024-05-01 12:30:00')).toBe(Date.parse('2024-05-01T12:30:00Z'));
    expect(cursorTime('2024-05-01T12:30')).toBe(Date.parse('2024-05-01T12:30:00Z'));
    expect(cursorTime(1_714_566_600)).toBe(Date.parse('2024-05-01T12:30:00Z'));
  });

  it('gives null for what is no time', () => {
    for (const value of ['yesterday', '', null, undefined, Number.NaN, Number.POSITIVE_INFINITY, {}, true]) {
      expect(cursorTime(value)).toBeNull();
    }
  });
});

describe('recordPreparer', () => {
  it('keeps the largest cursor value of a batch, over dotted paths, skipping records without one', async () => {
    const prepare = recordPreparer<{ id: number; meta?: { updated?: string } }>({
      volatileFields: [],
      idOf: undefined,
      cursorOf: pathReader('meta.updated'),
    });
    const prepared = await prepare(
      [
        { id: 1, meta: { updated: '2024-05-01 12:00:00' } },
        { id: 2, meta: { updated: '2024-05-02 08:00:00' } },
        { id: 3 },
        { id: 4, meta: { updated: 'garbage' } },
      ],
      undefined,
    );
    expect(prepared.items).toHaveLength(4);
    expect(prepared.highWater).toBe(Date.parse('2024-05-02T08:00:00Z'));
    const none = await recordPreparer({ volatileFields: [], idOf: undefined, cursorOf: undefined })(
      [{ id: 1 }],
      undefined,
    );
    expect(none.highWater).toBeNull();
  });
});

describe('storedJsonWriter', () => {
  const keys = ['a', 'b', 'fetched_at', 'meta', 'x y', '"q"', '__proto__'];
  const records = fc.dictionary(fc.constantFrom(...keys), fc.jsonValue(), { maxKeys: 6 });

  it('writes the value JSON.stringify writes (as jsonb reads it: key order aside) from the canonical text', () => {
    fc.assert(
      fc.property(records, fc.subarray(keys), (record, volatile) => {
        const canonical = canonicalizer(volatile);
        const write = storedJsonWriter(volatile);
        const json = write?.(canonical(record), record);
        expect(json).toBeDefined();
        expect(JSON.parse(json as string)).toEqual(JSON.parse(JSON.stringify(record)));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves out what JSON.stringify leaves out, and serializes dates and nested toJSON alike', () => {
    const write = storedJsonWriter(['fetched_at', 'gone', 'fn']) as NonNullable<ReturnType<typeof storedJsonWriter>>;
    const canonical = canonicalizer(['fetched_at', 'gone', 'fn']);
    const record = { id: 1, at: new Date(0), fetched_at: new Date(5), gone: undefined, fn: () => 1 };
    expect(JSON.parse(write(canonical(record), record) as string)).toEqual(JSON.parse(JSON.stringify(record)));
    expect(write('{}', { fetched_at: 'now' })).toBe('{"fetched_at":"now"}');
    expect(write('{"a":1}', { a: 1 })).toBe('{"a":1}');
  });

  it('declines a record with its own toJSON and a table with nested volatile paths (those are serialized whole)', () => {
    expect(storedJsonWriter(['meta.request_id'])).toBeUndefined();
    const write = storedJsonWriter(['fetched_at']) as NonNullable<ReturnType<typeof storedJsonWriter>>;
    expect(write('{"a":1}', { a: 1, toJSON: () => ({ other: true }) })).toBeUndefined();
  });

  it('throws like JSON.stringify for a volatile value JSON cannot hold', () => {
    const write = storedJsonWriter(['big']) as NonNullable<ReturnType<typeof storedJsonWriter>>;
    expect(() => write('{}', { big: 1n })).toThrow(TypeError);
  });
});

describe('recordPreparer, serializing a first load', () => {
  it('gives each record the stored JSON of JSON.stringify, and leaves a record JSON cannot hold unserialized', async () => {
    for (const volatileFields of [['fetched_at'], ['meta.request_id'], []]) {
      const prepare = recordPreparer<Record<string, unknown>>({ volatileFields, idOf: undefined, cursorOf: undefined });
      const records = [
        { id: 1, fetched_at: 'now', meta: { request_id: 'r1', n: 2 }, list: [1, 'two', null] },
        { id: 2, fetched_at: 2n },
      ];
      const prepared = await prepare(records, undefined, true);
      expect(JSON.parse(prepared.items[0]?.json as string), String(volatileFields)).toEqual(records[0]);
      const second = prepared.items.find((i) => i.id === '2');
      if (volatileFields[0] === 'fetched_at')
        expect(second?.hash).toMatch(/^[0-9a-f]{64}$/); // hashed without it
      else expect(second).toBeUndefined(); // its canonical text already failed
      expect(second?.json).toBeUndefined();
      const lazy = await prepare(records, undefined);
      expect(lazy.items.every((i) => i.json === undefined)).toBe(true);
    }
  });
});

describe('recordPreparer, letting records go', () => {
  it('drops a serialized record from its item unless the table keeps records (a versionField reads them later)', async () => {
    const records = [{ id: 1, name: 'a' }];
    const options = { volatileFields: [], idOf: undefined, cursorOf: undefined };
    const dropped = await recordPreparer<{ id: number; name: string }>(options)(records, undefined, true);
    expect(dropped.items[0]).toMatchObject({ id: '1', record: undefined, json: '{"id":1,"name":"a"}' });
    const kept = await recordPreparer<{ id: number; name: string }>({ ...options, keepRecords: true })(
      records,
      undefined,
      true,
    );
    expect(kept.items[0]?.record).toBe(records[0]);
    const lazy = await recordPreparer<{ id: number; name: string }>(options)(records, undefined);
    expect(lazy.items[0]?.record).toBe(records[0]);
  });
});

describe('recordPreparer, sharing the event loop', () => {
  it('lets I/O callbacks run while a large batch is hashed and serialized, in many turns of the event loop', async () => {
    const prepare = recordPreparer<{ id: number; text: string }>({
      volatileFields: [],
      idOf: undefined,
      cursorOf: undefined,
    });
    const records = Array.from({ length: 20_000 }, (_, i) => ({ id: i, text: 'x'.repeat(500) }));
    const gaps: number[] = [];
    let last = performance.now();
    let done = false;
    const tick = () => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const prepared = await prepare(records, undefined, true);
    done = true;
    expect(prepared.items).toHaveLength(20_000);
    // the callbacks ran during the batch, in many turns of the loop
    expect(gaps.length).toBeGreaterThan(10);
  });
});

import { describe, expect, it } from 'vitest';
import { cursorTime, pathReader, recordPreparer } from './prepare';

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

import { describe, expect, it } from 'vitest';
import { isSyncError } from './errors';
import {
  cursorPages,
  offsetPages,
  type PageSource,
  type SourceStart,
  type SyncPage,
  startingAfterPages,
} from './pages';

const start = (cursor: string | null = null): SourceStart => ({
  mode: 'full',
  cursor,
  since: null,
  lastCursor: null,
  signal: undefined,
});

async function collect<T>(source: PageSource<T>, from = start()): Promise<SyncPage<T>[]> {
  const pages: SyncPage<T>[] = [];
  for await (const page of source(from)) pages.push(page);
  return pages;
}

const items = Array.from({ length: 7 }, (_, i) => ({ id: `r${i + 1}` }));

describe('cursorPages', () => {
  const source = cursorPages<{ id: string }>({
    async fetch({ cursor }) {
      const at = cursor === null ? 0 : Number(cursor);
      return { records: items.slice(at, at + 3), next: at + 3 < items.length ? String(at + 3) : null };
    },
  });

  it('follows the cursor to the end, each page carrying the next cursor', async () => {
    const pages = await collect(source);
    expect(pages.map((p) => [p.records.map((r) => r.id), p.next])).toEqual([
      [['r1', 'r2', 'r3'], '3'],
      [['r4', 'r5', 'r6'], '6'],
      [['r7'], null],
    ]);
  });

  it('starts at the checkpoint it is given', async () => {
    const pages = await collect(source, start('6'));
    expect(pages.map((p) => p.records.map((r) => r.id))).toEqual([['r7']]);
  });

  it('refuses a provider that hands back the cursor it was given', async () => {
    const stuck = cursorPages({ fetch: async () => ({ records: [{ id: 'x' }], next: 'same' }) });
    await expect(collect(stuck, start('same'))).rejects.toSatisfy(
      (e) => isSyncError(e) && e.code === 'invalid_page' && e.message.includes('loop'),
    );
  });

  it('refuses a page without a records array, and a missing fetch', async () => {
    const bad = cursorPages({ fetch: async () => ({ data: [] }) as never });
    await expect(collect(bad)).rejects.toSatisfy((e) => isSyncError(e) && e.code === 'invalid_page');
    expect(() => cursorPages({} as never)).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('offsetPages', () => {
  it('pages by offset and ends on a short page', async () => {
    const seen: Array<[number, number]> = [];
    const source = offsetPages<{ id: string }>({
      limit: 3,
      async fetch({ offset, limit }) {
        seen.push([offset, limit]);
        return { records: items.slice(offset, offset + limit) };
      },
    });
    const pages = await collect(source);
    expect(seen).toEqual([
      [0, 3],
      [3, 3],
      [6, 3],
    ]);
    expect(pages.map((p) => p.next)).toEqual(['3', '6', null]);
  });

  it('trusts the provider when it says whether more exist', async () => {
    const source = offsetPages<{ id: string }>({
      limit: 3,
      fetch: async ({ offset }) => ({ records: items.slice(offset, offset + 3), more: offset === 0 }),
    });
    expect((await collect(source)).map((p) => p.next)).toEqual(['3', null]);
    expect((await collect(source, start('3'))).map((p) => p.records.length)).toEqual([3]);
  });

  it('rejects a bad limit and a checkpoint that is not an offset', async () => {
    expect(() => offsetPages({ limit: 0, fetch: async () => ({ records: [] }) })).toThrow(
      expect.objectContaining({ code: 'invalid_options' }),
    );
    const source = offsetPages({ fetch: async () => ({ records: [] }) });
    await expect(collect(source, start('-4'))).rejects.toSatisfy((e) => isSyncError(e) && e.code === 'invalid_page');
  });
});

describe('startingAfterPages', () => {
  const list = startingAfterPages<{ id: string }>({
    async fetch({ startingAfter }) {
      const at = startingAfter === null ? 0 : items.findIndex((r) => r.id === startingAfter) + 1;
      return { data: items.slice(at, at + 3), has_more: at + 3 < items.length };
    },
  });

  it('continues after the last id of each page while has_more', async () => {
    const pages = await collect(list);
    expect(pages.map((p) => p.next)).toEqual(['r3', 'r6', null]);
    expect(pages.flatMap((p) => p.records.map((r) => r.id))).toEqual(items.map((r) => r.id));
    expect((await collect(list, start('r6'))).map((p) => p.records.map((r) => r.id))).toEqual([['r7']]);
  });

  it('uses idOf when records have no id field, and rejects records without one', async () => {
    const custom = startingAfterPages<{ key: string }>({
      fetch: async ({ startingAfter }) =>
        startingAfter === null ? { data: [{ key: 'k1' }], has_more: true } : { data: [], has_more: false },
      idOf: (r) => r.key,
    });
    expect((await collect(custom)).map((p) => p.next)).toEqual(['k1', null]);
    const noId = startingAfterPages({ fetch: async () => ({ data: [{ name: 'x' }], has_more: true }) });
    await expect(collect(noId)).rejects.toSatisfy((e) => isSyncError(e) && e.code === 'invalid_page');
  });
});

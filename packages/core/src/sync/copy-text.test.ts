import { describe, expect, it } from 'vitest';
import { copyField, copyRows } from './copy-text';

describe('copyRows', () => {
  const n = 500;
  const ids = Array.from({ length: n }, (_, i) => `id\t${i}`);
  const hashes = ids.map((_, i) => `h${i}`);
  const data = ids.map((_, i) => JSON.stringify({ i, text: 'x'.repeat(400), path: 'a\\b' }));

  it('cuts the text in chunks under 64 KiB (young allocations for V8), every row whole and in order', () => {
    const chunks = [...copyRows(ids, hashes, data, { tableId: 7, runId: 9 })];
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.length).toBeLessThan(64 * 1024);
      expect(c.endsWith('\n')).toBe(true);
    }
    const lines = chunks.join('').split('\n').slice(0, -1);
    expect(lines).toHaveLength(n);
    lines.forEach((line, i) => {
      expect(line).toBe(`7\t${copyField(ids[i] as string)}\th${i}\t${(data[i] as string).replaceAll('\\', '\\\\')}\t9`);
    });
  });

  it('numbers staging rows by position and writes a null run as \\N', () => {
    const staged = [...copyRows(['a'], ['h'], ['{}'])].join('');
    expect(staged).toBe('0\ta\th\t{}\n');
    const direct = [...copyRows(['a'], ['h'], ['{}'], { tableId: 1, runId: null })].join('');
    expect(direct).toBe('1\ta\th\t{}\t\\N\n');
  });

  it('yields nothing for no rows', () => {
    expect([...copyRows([], [], [])]).toEqual([]);
  });
});

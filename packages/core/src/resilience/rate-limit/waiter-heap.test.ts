import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type HeapEntry, WaiterHeap } from './waiter-heap';

interface Entry extends HeapEntry {
  id: number;
}

describe('WaiterHeap', () => {
  it('pops by priority (highest first), then arrival, after any mix of pushes and removals', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ priority: fc.integer({ min: -3, max: 3 }), removed: fc.boolean() }), { maxLength: 60 }),
        (specs) => {
          const heap = new WaiterHeap<Entry>();
          const entries: Entry[] = specs.map((s, i) => ({ priority: s.priority, seq: i, index: -1, id: i }));
          for (const e of entries) heap.push(e);
          for (const [i, s] of specs.entries()) if (s.removed) expect(heap.remove(entries[i] as Entry)).toBe(true);
          const kept = entries.filter((_, i) => !specs[i]?.removed);
          const expected = [...kept].sort((a, b) => b.priority - a.priority || a.seq - b.seq).map((e) => e.id);
          expect(heap.size).toBe(kept.length);
          const popped: number[] = [];
          for (let e = heap.pop(); e !== undefined; e = heap.pop()) popped.push(e.id);
          expect(popped).toEqual(expected);
        },
      ),
    );
  });

  it('removing an entry twice, or one never queued, is a no-op', () => {
    const heap = new WaiterHeap<Entry>();
    const a: Entry = { priority: 0, seq: 0, index: -1, id: 0 };
    const stranger: Entry = { priority: 0, seq: 1, index: 0, id: 1 };
    heap.push(a);
    expect(heap.remove(stranger)).toBe(false);
    expect(heap.remove(a)).toBe(true);
    expect(heap.remove(a)).toBe(false);
    expect(heap.size).toBe(0);
  });
});

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

  it('matches a sorted model through any interleaving of pushes, pops and removals, in line mode and in heap mode', () => {
    type Op = { kind: 'push'; priority: number } | { kind: 'pop' } | { kind: 'remove'; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      // mostly one priority (the line), sometimes another (the heap), and back once empty
      { weight: 6, arbitrary: fc.constant<Op>({ kind: 'push', priority: 0 }) },
      { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }).map<Op>((priority) => ({ kind: 'push', priority })) },
      { weight: 3, arbitrary: fc.constant<Op>({ kind: 'pop' }) },
      { weight: 2, arbitrary: fc.nat().map<Op>((pick) => ({ kind: 'remove', pick })) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const heap = new WaiterHeap<Entry>();
        let model: Entry[] = [];
        const gone: Entry[] = [];
        const order = (a: Entry, b: Entry) => b.priority - a.priority || a.seq - b.seq;
        let seq = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            const e: Entry = { priority: o.priority, seq: seq++, index: -1, id: seq };
            heap.push(e);
            model.push(e);
          } else if (o.kind === 'pop') {
            model.sort(order);
            const want = model.shift();
            expect(heap.peek()).toBe(want);
            expect(heap.pop()).toBe(want);
            if (want) gone.push(want);
          } else if (model.length > 0) {
            const e = model[o.pick % model.length] as Entry;
            expect(heap.remove(e)).toBe(true);
            model = model.filter((m) => m !== e);
            gone.push(e);
          } else if (gone.length > 0) {
            expect(heap.remove(gone[o.pick % gone.length] as Entry)).toBe(false);
          }
          expect(heap.size).toBe(model.length);
          expect([...heap.entries()].sort(order)).toEqual([...model].sort(order));
        }
        const drained = heap.drain();
        expect(drained.sort(order)).toEqual(model.sort(order));
        expect(drained.every((e) => e.index === -1)).toBe(true);
        expect(heap.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a long line in order through thousands of starts and aborts (compacting as it goes)', () => {
    const heap = new WaiterHeap<Entry>();
    const all: Entry[] = Array.from({ length: 5000 }, (_, i) => ({ priority: 0, seq: i, index: -1, id: i }));
    for (const e of all) heap.push(e);
    for (let i = 1; i < 5000; i += 3) expect(heap.remove(all[i] as Entry)).toBe(true);
    const popped: number[] = [];
    for (let e = heap.pop(); e !== undefined; e = heap.pop()) {
      popped.push(e.id);
      if (popped.length === 1000) heap.push({ priority: 0, seq: 10_000, index: -1, id: 10_000 });
    }
    expect(popped).toEqual([...all.filter((_, i) => i % 3 !== 1).map((e) => e.id), 10_000]);
  });
});

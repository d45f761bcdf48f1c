/** What the heap needs from an entry: its order and a slot for its position. @internal */
export interface HeapEntry {
  /** Higher runs first. */
  readonly priority: number;
  /** Arrival order: among equal priorities, lower runs first. */
  readonly seq: number;
  /** Position in the heap, -1 once removed. */
  index: number;
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

/**
 * A binary heap of queued calls, highest priority first and first-come
 * first-served within a priority. Entries remember their position, so an
 * aborted call leaves in O(log n) instead of lingering as a tombstone.
 * @internal
 */
export class WaiterHeap<T extends HeapEntry> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(entry: T): void {
    entry.index = this.items.length;
    this.items.push(entry);
    this.up(entry.index);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Removes `entry` if it is still queued; returns whether it was. */
  remove(entry: T): boolean {
    const i = entry.index;
    if (i < 0 || this.items[i] !== entry) return false;
    const last = this.items.pop() as T;
    entry.index = -1;
    if (last !== entry) {
      this.items[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    return true;
  }

  /** Removes and returns every entry, in no particular order. */
  drain(): T[] {
    const all = this.items.splice(0);
    for (const entry of all) entry.index = -1;
    return all;
  }

  /** Every queued entry, in no particular order (a read-only view). */
  entries(): readonly T[] {
    return this.items;
  }

  private up(i: number): void {
    const items = this.items;
    const entry = items[i] as T;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (!before(entry, parent)) break;
      items[i] = parent;
      parent.index = i;
      i = parentIndex;
    }
    items[i] = entry;
    entry.index = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const entry = items[i] as T;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(items[right] as T, items[left] as T)) child = right;
      const candidate = items[child] as T;
      if (!before(candidate, entry)) break;
      items[i] = candidate;
      candidate.index = i;
      i = child;
    }
    items[i] = entry;
    entry.index = i;
  }
}

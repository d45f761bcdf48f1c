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

/** Line slots passed over before the line is compacted. */
const COMPACT_AFTER = 1024;

/**
 * The queued calls, highest priority first and first-come first-served
 * within a priority. Entries remember their position, so an aborted call
 * leaves at once instead of lingering as a tombstone in the order.
 *
 * While every waiting call has the same priority (the usual case: no
 * `priority` option) the calls wait in a plain line: push, take the head and
 * remove are O(1), where a heap of 10,000 waiters pays a sift of 13 levels
 * for every start. A call of another priority turns the line into the heap
 * (it is one already: arrival order is heap order when priorities are
 * equal), and the heap turns back into a line once it is empty.
 * @internal
 */
export class WaiterHeap<T extends HeapEntry> {
  /** The heap, while calls of different priorities wait. */
  private items: T[] = [];
  /** The line, while one priority waits: `undefined` where a call left, `head` the first slot still in use. */
  private line: (T | undefined)[] = [];
  private head = 0;
  private waiting = 0;
  private inLine = true;
  private linePriority = 0;
  private lastSeq = Number.NEGATIVE_INFINITY;

  get size(): number {
    return this.inLine ? this.waiting : this.items.length;
  }

  peek(): T | undefined {
    return this.inLine ? this.line[this.head] : this.items[0];
  }

  push(entry: T): void {
    if (this.inLine) {
      if (this.waiting === 0) {
        this.line = [];
        this.head = 0;
        this.linePriority = entry.priority;
      }
      if (entry.priority === this.linePriority && entry.seq > this.lastSeq) {
        this.lastSeq = entry.seq;
        entry.index = this.line.length;
        this.line.push(entry);
        this.waiting++;
        return;
      }
      this.toHeap();
    }
    this.lastSeq = Math.max(this.lastSeq, entry.seq);
    entry.index = this.items.length;
    this.items.push(entry);
    this.up(entry.index);
  }

  pop(): T | undefined {
    const top = this.peek();
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Removes `entry` if it is still queued; returns whether it was. */
  remove(entry: T): boolean {
    const i = entry.index;
    if (this.inLine) {
      if (i < this.head || this.line[i] !== entry) return false;
      this.line[i] = undefined;
      entry.index = -1;
      this.waiting--;
      if (this.waiting === 0) {
        this.line = [];
        this.head = 0;
      } else if (i === this.head) {
        while (this.line[this.head] === undefined) this.head++;
        if (this.head > COMPACT_AFTER && this.head * 2 > this.line.length) this.compact();
      }
      return true;
    }
    if (i < 0 || this.items[i] !== entry) return false;
    const last = this.items.pop() as T;
    entry.index = -1;
    if (last !== entry) {
      this.items[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    if (this.items.length === 0) this.inLine = true;
    return true;
  }

  /** Removes and returns every entry, in no particular order. */
  drain(): T[] {
    const all = this.inLine ? this.lined() : this.items.splice(0);
    for (const entry of all) entry.index = -1;
    this.line = [];
    this.head = 0;
    this.waiting = 0;
    this.inLine = true;
    return all;
  }

  /** Every queued entry, in no particular order (a read-only view). */
  entries(): readonly T[] {
    return this.inLine ? this.lined() : this.items;
  }

  /** The calls in the line, in order. */
  private lined(): T[] {
    const out: T[] = [];
    for (let i = this.head; i < this.line.length; i++) {
      const entry = this.line[i];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  /** Drops the passed-over slots at the front of the line. */
  private compact(): void {
    this.line = this.lined();
    this.line.forEach((entry, i) => {
      (entry as T).index = i;
    });
    this.head = 0;
  }

  /** The line as the heap: in arrival order with one priority, each entry comes before its children already. */
  private toHeap(): void {
    this.items = this.lined();
    this.items.forEach((entry, i) => {
      entry.index = i;
    });
    this.line = [];
    this.head = 0;
    this.waiting = 0;
    this.inLine = false;
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

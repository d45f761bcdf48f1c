import type { GeocodeEntry } from './geocode-store';

/** One cached entry in process memory, shared by its key and by the raw strings that led to it. */
export interface TierSlot {
  readonly key: string;
  entry: GeocodeEntry;
  /** Position in the recency order; refreshed when an old slot is read. */
  seq: number;
  evicted: boolean;
}

/**
 * The in-process tier in front of the store: a bounded map of entries by
 * key, least recently used evicted, plus a map from the exact address
 * strings callers passed to their slot, so a repeated lookup of the same
 * string costs two map reads and no normalization or hashing.
 *
 * Recency is approximate to keep a hit cheap: a read moves a slot to the
 * young end only when it is in the older half, so hot entries are never
 * evicted and a hit seldom writes to the map.
 */
export class MemoryTier {
  private readonly slots = new Map<string, TierSlot>();
  private readonly raw = new Map<string, TierSlot>();
  private seq = 0;

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.slots.size;
  }

  /** The slot for an exact address string, if it is still in the tier. */
  byRaw(text: string): TierSlot | undefined {
    const slot = this.raw.get(text);
    if (slot === undefined) return undefined;
    if (slot.evicted) {
      this.raw.delete(text);
      return undefined;
    }
    if (slot.seq < this.seq - (this.maxEntries >> 1)) this.touch(slot);
    return slot;
  }

  get(key: string): TierSlot | undefined {
    const slot = this.slots.get(key);
    if (slot !== undefined && slot.seq < this.seq - (this.maxEntries >> 1)) this.touch(slot);
    return slot;
  }

  /** Stores an entry (its location frozen, so hits can share it) and returns its slot. */
  set(key: string, entry: GeocodeEntry, rawText?: string): TierSlot {
    const frozen: GeocodeEntry = { ...entry, location: entry.location && Object.freeze({ ...entry.location }) };
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = { key, entry: frozen, seq: this.seq++, evicted: false };
      this.slots.set(key, slot);
      while (this.slots.size > this.maxEntries) {
        const oldest = this.slots.values().next().value as TierSlot;
        oldest.evicted = true;
        this.slots.delete(oldest.key);
      }
    } else {
      slot.entry = frozen;
      this.touch(slot);
    }
    if (rawText !== undefined) this.alias(rawText, slot);
    return slot;
  }

  /** Remembers that `rawText` normalizes to the slot's key. */
  alias(rawText: string, slot: TierSlot): void {
    if (this.raw.get(rawText) === slot) return;
    this.raw.set(rawText, slot);
    // several strings may lead to one key: bound the aliases too, oldest first
    if (this.raw.size > this.maxEntries * 2) {
      let drop = this.raw.size - this.maxEntries;
      for (const text of this.raw.keys()) {
        if (drop-- <= 0) break;
        this.raw.delete(text);
      }
    }
  }

  /** Applies `fn` to every entry; returning `undefined` drops it. */
  update(fn: (entry: GeocodeEntry) => GeocodeEntry | undefined): void {
    for (const slot of this.slots.values()) {
      const next = fn(slot.entry);
      if (next === undefined) {
        slot.evicted = true;
        this.slots.delete(slot.key);
      } else if (next !== slot.entry) {
        slot.entry = next;
      }
    }
  }

  clear(): void {
    for (const slot of this.slots.values()) slot.evicted = true;
    this.slots.clear();
    this.raw.clear();
  }

  private touch(slot: TierSlot): void {
    this.slots.delete(slot.key);
    slot.seq = this.seq++;
    this.slots.set(slot.key, slot);
  }
}

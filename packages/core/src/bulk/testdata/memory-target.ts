/** A provider in memory for the bulk suites: records with a key field, write hooks, a daily budget. */
import type { BulkBudget, BulkRecord, BulkTarget } from '../target';

export interface RemoteRecord {
  id: string;
  key: string | undefined;
  name: string;
}

export class HttpishError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface MemoryRemote {
  records: Map<string, RemoteRecord>;
  target: BulkTarget<{ name: string }>;
  calls: { create: number; update: number; find: number; index: number };
  /** Units left today; undefined for no budget. */
  budget: { remaining: number; resetsAt: Date } | undefined;
  /** Runs before each write reaches the store (throw to refuse it). */
  beforeWrite?: undefined | ((kind: 'create' | 'update', record: BulkRecord<{ name: string }>) => void | Promise<void>);
  /** Runs after a create was stored, before its answer goes back (throw to lose the answer). */
  afterCreate?: undefined | ((record: RemoteRecord) => void | Promise<void>);
  count(key: string): number;
}

export const COSTS = { indexPage: 10, indexPageSize: 100, find: 5, create: 5, update: 5 };

export function memoryRemote(options: { budget?: BulkBudget; latencyMs?: number } = {}): MemoryRemote {
  const records = new Map<string, RemoteRecord>();
  let next = 1;
  const calls = { create: 0, update: 0, find: 0, index: 0 };
  const wait = () => new Promise((r) => setTimeout(r, options.latencyMs ?? 0));
  const charge = (cost: number) => {
    if (!remote.budget) return;
    if (remote.budget.remaining < cost) throw new HttpishError(429, 'daily budget spent');
    remote.budget.remaining -= cost;
  };
  const remote: MemoryRemote = {
    records,
    calls,
    budget: options.budget ? { ...options.budget } : undefined,
    count: (key) => [...records.values()].filter((r) => r.key === key).length,
    target: {
      name: 'records',
      costs: COSTS,
      rate: { requests: 100, intervalMs: 100 },
      validate: (record) => (record.data?.name ? undefined : 'name is required'),
      async *index() {
        const all = [...records.values()];
        for (let i = 0; i < all.length || i === 0; i += COSTS.indexPageSize) {
          calls.index++;
          charge(COSTS.indexPage);
          await wait();
          for (const r of all.slice(i, i + COSTS.indexPageSize))
            if (r.key !== undefined) yield { key: r.key, id: r.id };
          if (all.length === 0) break;
        }
      },
      async find(key) {
        calls.find++;
        charge(COSTS.find);
        await wait();
        return [...records.values()].filter((r) => r.key === key).map((r) => r.id);
      },
      async create(record, signal) {
        calls.create++;
        charge(COSTS.create);
        await remote.beforeWrite?.('create', record);
        await wait();
        signal.throwIfAborted();
        if (record.data.name === 'reject me') throw new HttpishError(400, 'name is not allowed');
        const created = { id: String(next++), key: record.key, name: record.data.name };
        records.set(created.id, created);
        await remote.afterCreate?.(created);
        return created.id;
      },
      async update(id, record) {
        calls.update++;
        charge(COSTS.update);
        await remote.beforeWrite?.('update', record);
        await wait();
        const found = records.get(id);
        if (!found) throw new HttpishError(404, `record ${id} not found`);
        found.name = record.data.name;
      },
      itemError: (error) =>
        error instanceof HttpishError &&
        error.status >= 400 &&
        error.status < 500 &&
        ![401, 403, 429].includes(error.status)
          ? { code: error.status === 404 ? 'not_found' : 'validation', message: error.message, status: error.status }
          : undefined,
      isBudgetError: (error) => error instanceof HttpishError && error.status === 429,
      budget: () => remote.budget,
      concurrency: 4,
    },
  };
  return remote;
}

export function people(n: number, prefix = 'ext', from = 0): Array<BulkRecord<{ name: string }>> {
  return Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${from + i}`, data: { name: `Person ${from + i}` } }));
}

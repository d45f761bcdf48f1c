import { InboxError } from './errors';
import type {
  ClaimedInboxEvent,
  ClaimRequest,
  InboxAttempt,
  InboxCounts,
  InboxDriver,
  InboxEvent,
  InboxEventKey,
  InboxFilter,
  InboxListOptions,
  InboxPage,
  InsertOptions,
  NewInboxEvent,
  PurgeRequest,
  Settlement,
} from './types';

interface Stored {
  seq: number;
  event: InboxEvent;
}

const keyOf = (k: InboxEventKey) => `${k.source}\u0000${k.id}`;
const copy = (e: InboxEvent): InboxEvent => ({ ...e, headers: e.headers === null ? null : { ...e.headers } });

function matches(e: InboxEvent, filter: InboxFilter): boolean {
  if (filter.source !== undefined && e.source !== filter.source) return false;
  if (filter.type !== undefined && e.type !== filter.type) return false;
  if (filter.status !== undefined) {
    const statuses: readonly string[] = typeof filter.status === 'string' ? [filter.status] : filter.status;
    if (!statuses.includes(e.status)) return false;
  }
  if (filter.ids !== undefined && !filter.ids.includes(e.id)) return false;
  return true;
}

/**
 * The in-memory inbox driver: same behaviour as the SQL driver, for tests and
 * throwaway use. Nothing survives the process, and nothing is shared between
 * processes. Payloads are parsed from their JSON text, as the SQL driver stores them.
 */
export function memoryInboxDriver(): InboxDriver {
  const rows = new Map<string, Stored>();
  let seq = 0;

  const due = (e: InboxEvent, now: Date) =>
    (e.status === 'received' || e.status === 'failed' || e.status === 'processing') &&
    e.nextAttemptAt !== null &&
    e.nextAttemptAt.getTime() <= now.getTime();

  return {
    async insert(events: readonly NewInboxEvent[], now: Date, options: InsertOptions = {}): Promise<boolean[]> {
      if (options.tx !== undefined) {
        throw new InboxError('ingest', 'invalid_options', 'the memory inbox cannot write inside a SQL transaction');
      }
      // parse the whole batch first, so a bad event stores nothing (one statement, one outcome)
      const payloads = events.map((e) => JSON.parse(e.payloadJson) as unknown);
      return events.map((e, i) => {
        const key = keyOf(e);
        if (rows.has(key)) return false;
        rows.set(key, {
          seq: ++seq,
          event: {
            source: e.source,
            id: e.id,
            type: e.type,
            payload: payloads[i],
            rawBody: e.rawBody,
            headers: e.headers === null ? null : { ...e.headers },
            status: 'received',
            attempts: 0,
            lastError: null,
            receivedAt: now,
            updatedAt: now,
            nextAttemptAt: now,
            leaseOwner: null,
            leaseUntil: null,
            processedAt: null,
            replays: 0,
            history: [],
          },
        });
        return true;
      });
    },

    async claim(request: ClaimRequest): Promise<ClaimedInboxEvent[]> {
      const candidates = [...rows.values()]
        .filter(
          ({ event }) =>
            event.source === request.source &&
            (request.id === undefined || event.id === request.id) &&
            due(event, request.now),
        )
        .sort(
          (a, b) => (a.event.nextAttemptAt?.getTime() ?? 0) - (b.event.nextAttemptAt?.getTime() ?? 0) || a.seq - b.seq,
        )
        .slice(0, request.limit);
      return candidates.map(({ event }) => {
        event.status = 'processing';
        event.attempts += 1;
        event.leaseOwner = request.owner;
        event.leaseUntil = request.leaseUntil;
        event.nextAttemptAt = request.leaseUntil;
        event.updatedAt = request.now;
        return copy(event) as ClaimedInboxEvent;
      });
    },

    async extend(key: InboxEventKey, owner: string, leaseUntil: Date, now: Date): Promise<boolean> {
      const event = rows.get(keyOf(key))?.event;
      if (event?.status !== 'processing' || event.leaseOwner !== owner) return false;
      event.leaseUntil = leaseUntil;
      event.nextAttemptAt = leaseUntil;
      event.updatedAt = now;
      return true;
    },

    async settle(
      key: InboxEventKey,
      owner: string,
      outcome: Settlement,
      now: Date,
      attempt?: InboxAttempt,
    ): Promise<boolean> {
      const event = rows.get(keyOf(key))?.event;
      if (event?.status !== 'processing' || event.leaseOwner !== owner) return false;
      if (attempt !== undefined) event.history.push({ ...attempt });
      if (outcome.status === 'deferred') {
        // the attempt never started, so its count is given back
        event.attempts = Math.max(event.attempts - 1, 0);
        event.status = event.attempts > 0 ? 'failed' : 'received';
      } else event.status = outcome.status;
      if (outcome.status !== 'processed') event.lastError = outcome.error;
      event.nextAttemptAt = outcome.status === 'failed' || outcome.status === 'deferred' ? outcome.nextAttemptAt : null;
      event.processedAt = outcome.status === 'processed' ? now : null;
      event.leaseOwner = null;
      event.leaseUntil = null;
      event.updatedAt = now;
      return true;
    },

    async replay(filter: InboxFilter, now: Date): Promise<InboxEventKey[]> {
      const moved: InboxEventKey[] = [];
      for (const { event } of rows.values()) {
        if (!matches(event, filter)) continue;
        if (event.status === 'processed') event.replays += 1;
        event.status = 'received';
        event.attempts = 0;
        event.nextAttemptAt = now;
        event.leaseOwner = null;
        event.leaseUntil = null;
        event.updatedAt = now;
        moved.push({ source: event.source, id: event.id });
      }
      return moved;
    },

    async purge(request: PurgeRequest): Promise<number> {
      const statuses: readonly string[] = request.statuses;
      const doomed = [...rows.entries()]
        .filter(
          ([, { event }]) =>
            statuses.includes(event.status) &&
            event.updatedAt.getTime() < request.before.getTime() &&
            (request.source === undefined || event.source === request.source),
        )
        .sort(([, a], [, b]) => a.event.updatedAt.getTime() - b.event.updatedAt.getTime() || a.seq - b.seq)
        .slice(0, request.limit);
      for (const [key] of doomed) rows.delete(key);
      return doomed.length;
    },

    async get(key: InboxEventKey): Promise<InboxEvent | null> {
      const stored = rows.get(keyOf(key));
      return stored ? copy(stored.event) : null;
    },

    async list(options: InboxListOptions): Promise<InboxPage> {
      const after = options.cursor === undefined ? 0 : Number(options.cursor);
      const limit = options.limit ?? 100;
      const page = [...rows.values()]
        .filter((s) => s.seq > after && matches(s.event, options))
        .sort((a, b) => a.seq - b.seq)
        .slice(0, limit + 1);
      const items = page.slice(0, limit);
      const last = items[items.length - 1];
      return {
        events: items.map((s) => copy(s.event)),
        nextCursor: page.length > limit && last ? String(last.seq) : null,
      };
    },

    async counts(filter: InboxFilter): Promise<InboxCounts> {
      const counts: InboxCounts = { received: 0, processing: 0, processed: 0, failed: 0, dead: 0, total: 0 };
      for (const { event } of rows.values()) {
        if (!matches(event, filter)) continue;
        counts[event.status] += 1;
        counts.total += 1;
      }
      return counts;
    },
  };
}

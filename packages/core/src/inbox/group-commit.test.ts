import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isInboxError } from './errors';
import { type GroupCommitOptions, groupCommitter, normalizeGroupCommit } from './group-commit';

/** A write that never settles until the test opens its gate, counting how many run at once. */
function gatedWrite() {
  const gates: (() => void)[] = [];
  let running = 0;
  let most = 0;
  let calls = 0;
  const write = async (items: string[]) => {
    calls++;
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    return items.map(() => true);
  };
  return {
    write,
    openAll: () => {
      for (const gate of gates.splice(0)) gate();
    },
    get running() {
      return running;
    },
    get most() {
      return most;
    },
    get calls() {
      return calls;
    },
  };
}

const committer = (write: (items: string[]) => Promise<boolean[]>, options: GroupCommitOptions) =>
  groupCommitter<string, boolean>(write, normalizeGroupCommit(options));

const codeOf = (error: unknown) => (isInboxError(error) ? error.code : error);

describe('group commit admission', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts the deadline from the submission: an event still queued behind a hung write fails in time', async () => {
    const store = gatedWrite();
    const c = committer(store.write, { maxInFlight: 1, timeoutMs: 1000 });
    const first = c.submit('a', 1).catch(codeOf);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    const queued = c.submit('b', 1).catch(codeOf); // waits: the only slot is taken
    let answered: unknown;
    void queued.then((v) => {
      answered = v;
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(await first).toBe('store_unavailable');
    expect(answered).toBeUndefined();
    await vi.advanceTimersByTimeAsync(500); // 1000 ms after its own submission, never written
    expect(answered).toBe('store_unavailable');
    expect(store.calls).toBe(1);
    expect(c.pending).toBe(0);
  });

  it('holds a batch’s slot until its write settles, so a hung store never has more than maxInFlight writes', async () => {
    const store = gatedWrite();
    const c = committer(store.write, { maxInFlight: 2, minParallelBatch: 1, timeoutMs: 200 });
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      answers.push(c.submit(`e${i}`, 1).catch(codeOf));
      await vi.advanceTimersByTimeAsync(50);
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(await Promise.all(answers)).toEqual(Array.from({ length: 20 }, () => 'store_unavailable'));
    expect(store.most).toBe(2);
    expect(store.calls).toBe(2);
    // once the store answers, the slots are free again and new events are written
    store.openAll();
    await vi.advanceTimersByTimeAsync(0);
    const later = c.submit('later', 1);
    await vi.advanceTimersByTimeAsync(0);
    store.openAll();
    expect(await later).toBe(true);
  });

  it('refuses events at once with overloaded when the queue is full by count or by bytes', async () => {
    const store = gatedWrite();
    const c = committer(store.write, { maxInFlight: 1, maxPending: 3, maxPendingBytes: 100, timeoutMs: 60_000 });
    const inFlight = c.submit('w', 1);
    await vi.advanceTimersByTimeAsync(0); // the slot is taken; the next ones queue
    const queued = [c.submit('a', 10), c.submit('b', 10), c.submit('c', 10)];
    expect(c.pending).toBe(3);
    expect(codeOf(await c.submit('d', 1).catch((e: unknown) => e))).toBe('overloaded');
    store.openAll();
    await vi.advanceTimersByTimeAsync(0);
    expect(await inFlight).toBe(true);
    const second = committer(store.write, { maxInFlight: 1, maxPendingBytes: 100, timeoutMs: 60_000 });
    const busy = second.submit('w', 1);
    await vi.advanceTimersByTimeAsync(0);
    const big = second.submit('big', 95);
    expect(codeOf(await second.submit('more', 10).catch((e: unknown) => e))).toBe('overloaded');
    store.openAll();
    await vi.advanceTimersByTimeAsync(0);
    store.openAll();
    await vi.advanceTimersByTimeAsync(0);
    store.openAll();
    expect(await Promise.all([...queued, busy, big])).toEqual([true, true, true, true, true]);
  });

  it('close() answers everything within timeoutMs even while a write hangs', async () => {
    const store = gatedWrite();
    const c = committer(store.write, { maxInFlight: 1, timeoutMs: 300 });
    const a = c.submit('a', 1).catch(codeOf);
    await vi.advanceTimersByTimeAsync(0);
    const b = c.submit('b', 1).catch(codeOf);
    let closed = false;
    const closing = c.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(299);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await closing;
    expect([await a, await b]).toEqual(['store_unavailable', 'store_unavailable']);
    expect(codeOf(await c.submit('c', 1).catch((e: unknown) => e))).toBe('stopped');
  });
});

describe('group commit options', () => {
  it('rejects a queue bound that is not a positive integer with invalid_options', () => {
    for (const bad of [{ maxPending: 0 }, { maxPendingBytes: 1.5 }, { maxPending: Number.NaN }]) {
      let error: unknown;
      try {
        normalizeGroupCommit(bad);
      } catch (e) {
        error = e;
      }
      expect(codeOf(error), JSON.stringify(bad)).toBe('invalid_options');
    }
  });
});

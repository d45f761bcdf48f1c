import { SyncError } from './errors';
import type { SyncPage } from './pages';
import { errorMessage } from './table-store';

/**
 * The page loop of a run: pulls pages from the source, buffers them up to
 * `batchSize` records and hands each batch to `prepare` then `store`. Three
 * things overlap (decision 0403): the next page is fetched while the buffer
 * fills, and a batch is prepared while the previous one is stored. Whatever
 * was fetched is stored before a failure is reported, so a resumed run
 * refetches nothing.
 */

/** What the loop needs from the run. */
export interface PageLoop<T, B> {
  batchSize: number;
  signal: AbortSignal | undefined;
  /** The run's id and pages stored so far, for errors. */
  progress(): { runId: number; pages: number };
  /** Prepares buffered pages (CPU work: ids, hashes), while the previous batch is stored. */
  prepare(pages: SyncPage<T>[]): Promise<B>;
  /** Stores a prepared batch with its checkpoint. */
  store(batch: B): Promise<void>;
}

/** The `aborted` error of a run, with the signal's reason as its cause. */
export function abortedError(progress: { runId: number; pages: number }, signal: AbortSignal | undefined): SyncError {
  return new SyncError('syncTable.run', 'aborted', `run ${progress.runId} was aborted after ${progress.pages} pages`, {
    runId: progress.runId,
    cause: signal?.reason,
  });
}

function checkPage<T>(value: unknown, pageNumber: number, runId: number): SyncPage<T> {
  const page = value as Partial<SyncPage<T>> | null;
  const bad = (why: string) =>
    new SyncError('syncTable.run', 'invalid_page', `page ${pageNumber} of run ${runId} ${why}`, { runId });
  if (page === null || typeof page !== 'object' || !Array.isArray(page.records)) {
    throw bad('is not { records: [...], next? }');
  }
  if (page.next !== undefined && page.next !== null && typeof page.next !== 'string') {
    throw bad(`has a next of type ${typeof page.next}; checkpoints are strings or null`);
  }
  return page as SyncPage<T>;
}

/**
 * Reads every page of `iterable` and stores them batch by batch; resolves
 * once the last batch is stored. On an error, stores what was fetched,
 * closes the iterator and throws a {@link SyncError}: `source_failed`,
 * `aborted`, `invalid_page`, or the store's own error.
 */
export async function readPages<T, B>(iterable: AsyncIterable<SyncPage<T>>, loop: PageLoop<T, B>): Promise<void> {
  const { batchSize, signal } = loop;
  const iterator = iterable[Symbol.asyncIterator]();
  const pull = () => {
    const p = iterator.next();
    p.catch(() => {}); // read below; a prefetch abandoned by an error must not go unhandled
    return p;
  };
  const buffer: SyncPage<T>[] = [];
  let buffered = 0;
  // the store of the previous batch, running while the next one is prepared
  let storing: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (buffer.length === 0) return;
    const pages = buffer.splice(0);
    buffered = 0;
    const batch = await loop.prepare(pages);
    await storing;
    storing = loop.store(batch);
    storing.catch(() => {}); // awaited by the next flush or the end of the loop
  };
  const drain = async () => {
    await flush();
    await storing;
  };
  try {
    // the next page is fetched while the previous ones are stored
    let pending = pull();
    for (;;) {
      let step: IteratorResult<SyncPage<T>>;
      try {
        step = await pending;
      } catch (error) {
        await drain();
        if (signal?.aborted) throw abortedError(loop.progress(), signal);
        const { runId, pages } = loop.progress();
        throw new SyncError(
          'syncTable.run',
          'source_failed',
          `the source failed after ${pages} stored pages of run ${runId}: ${errorMessage(error)}`,
          { runId, cause: error },
        );
      }
      if (step.done) break;
      if (signal?.aborted) {
        await drain();
        throw abortedError(loop.progress(), signal);
      }
      let page: SyncPage<T>;
      try {
        const { runId, pages } = loop.progress();
        page = checkPage(step.value, pages + buffer.length + 1, runId);
      } catch (error) {
        await drain();
        throw error;
      }
      buffer.push(page);
      buffered += page.records.length;
      pending = pull();
      if (buffered >= batchSize) await flush();
    }
    await drain();
  } catch (error) {
    await iterator.return?.().catch(() => {});
    throw error;
  }
}

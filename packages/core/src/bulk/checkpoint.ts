import { BulkError } from './errors';

/** Where one record of a bulk job stands. */
export type BulkItemStatus = 'sent' | 'done' | 'failed';

/**
 * The recorded state of one record of a job, keyed by the record's unique key.
 *
 * `sent` with `action: 'create'` is the intent written before a create goes
 * out: after a crash nobody knows whether the provider made the record, so a
 * resumed job looks it up before creating it again.
 */
export interface BulkItemState {
  key: string;
  status: BulkItemStatus;
  action: 'create' | 'update';
  /** The provider's id of the record, once known. */
  id?: string;
  /** `failed`: why. */
  error?: { code: string; message: string; status?: number };
}

/** Where a job stands as a whole. */
export type BulkJobStatus = 'running' | 'paused' | 'completed' | 'failed';

/** A job's summary, kept beside its items. */
export interface BulkJobSummary {
  status: BulkJobStatus;
  total: number;
  done: number;
  failed: number;
  /** `paused`: when the budget resets (ISO 8601). */
  resumeAfter?: string;
  /** `failed`: the error that stopped the job. */
  error?: string;
  /** When the summary was written (ISO 8601). */
  updatedAt: string;
}

/**
 * Keeps the checkpoint of bulk jobs: one state per touched record, and a
 * summary per job. `sqlBulkCheckpoints` (PGlite, Postgres) survives a crash;
 * `memoryBulkCheckpoints` lasts as long as the process.
 */
export interface BulkCheckpointStore {
  /** Every recorded item state of a job (none for a new job). */
  load(job: string): Promise<BulkItemState[]>;
  /** Records item states, replacing earlier ones with the same key. */
  save(job: string, items: readonly BulkItemState[]): Promise<void>;
  /** Writes the job's summary. */
  saveJob(job: string, summary: BulkJobSummary): Promise<void>;
  /** The job's summary, or undefined for a job never run. */
  getJob(job: string): Promise<BulkJobSummary | undefined>;
  /** Forgets a job and its items. */
  delete(job: string): Promise<void>;
}

const JOB = /^[\w.:@/-]{1,200}$/;

/** @internal Validates a job name. */
export function checkJobName(api: string, job: unknown): string {
  if (typeof job !== 'string' || !JOB.test(job))
    throw new BulkError(
      api,
      'invalid_options',
      `job must be 1 to 200 characters of letters, digits and _ . : @ / -, got ${JSON.stringify(job)}`,
    );
  return job;
}

/**
 * An in-memory checkpoint store, for tests and jobs that need not survive the
 * process.
 *
 * @example
 * ```ts
 * import { memoryBulkCheckpoints } from '@ballast/core/stores/memory';
 * const checkpoints = memoryBulkCheckpoints();
 * await checkpoints.save('import-1', [{ key: 'ext-1', status: 'done', action: 'create', id: '17' }]);
 * ```
 */
export function memoryBulkCheckpoints(): BulkCheckpointStore {
  const items = new Map<string, Map<string, BulkItemState>>();
  const jobs = new Map<string, BulkJobSummary>();
  const api = 'memoryBulkCheckpoints';
  return {
    async load(job) {
      checkJobName(api, job);
      return [...(items.get(job)?.values() ?? [])].map((s) => structuredClone(s));
    },
    async save(job, states) {
      checkJobName(api, job);
      const map = items.get(job) ?? new Map<string, BulkItemState>();
      items.set(job, map);
      for (const s of states) map.set(s.key, structuredClone(s));
    },
    async saveJob(job, summary) {
      checkJobName(api, job);
      jobs.set(job, { ...summary });
    },
    async getJob(job) {
      checkJobName(api, job);
      const summary = jobs.get(job);
      return summary ? { ...summary } : undefined;
    },
    async delete(job) {
      checkJobName(api, job);
      items.delete(job);
      jobs.delete(job);
    },
  };
}

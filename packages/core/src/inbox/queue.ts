import { InboxError } from './errors';
import type { InboxEventKey } from './types';

/** A job on an inbox queue: "process this event". The event itself stays in the inbox. */
export type InboxJob = InboxEventKey;

/** Per-send options. */
export interface QueueSendOptions {
  /** Do not hand the jobs to a worker before this time. */
  startAfter?: Date;
}

/** Per-subscription options. */
export interface QueueWorkOptions {
  /** Jobs run at the same time by this subscription. */
  concurrency: number;
}

/** A running subscription; `stop()` waits for the jobs it is running. */
export interface QueueSubscription {
  stop(): Promise<void>;
}

/**
 * How stored events reach workers. The inbox table is the durable record; a
 * queue only carries "process event X" signals, so a lost job delays an event
 * until the next sweep but never loses it. Drivers: {@link inProcessQueue}
 * (the default) and `pgBossQueue` (durable, shared by many processes).
 */
export interface InboxQueue {
  /** Queues jobs on a topic. */
  send(topic: string, jobs: readonly InboxJob[], options?: QueueSendOptions): Promise<void>;
  /** Runs `handler` for each job of the topic, `concurrency` at a time. The handler never throws. */
  work(topic: string, handler: (job: InboxJob) => Promise<void>, options: QueueWorkOptions): Promise<QueueSubscription>;
}

/** Options for {@link inProcessQueue}. */
export interface InProcessQueueOptions {
  /**
   * The clock, in epoch milliseconds, for delayed jobs.
   * @default Date.now
   */
  clock?: () => number;
}

interface Topic {
  ready: InboxJob[];
  handler?: (job: InboxJob) => Promise<void>;
  concurrency: number;
  running: Set<Promise<void>>;
  timers: Set<ReturnType<typeof setTimeout>>;
}

/**
 * An in-memory queue: jobs run in this process, as soon as a slot is free, or
 * after `startAfter` (a timer, so fake timers drive it). Not durable: after a
 * crash the worker's sweep finds the events again in the inbox.
 *
 * @example
 * ```ts
 * const queue = inProcessQueue();
 * ```
 */
export function inProcessQueue(options: InProcessQueueOptions = {}): InboxQueue {
  const clock = options.clock ?? Date.now;
  const topics = new Map<string, Topic>();

  const topicOf = (name: string): Topic => {
    let topic = topics.get(name);
    if (!topic) {
      topic = { ready: [], concurrency: 1, running: new Set(), timers: new Set() };
      topics.set(name, topic);
    }
    return topic;
  };

  const pump = (topic: Topic) => {
    const { handler } = topic;
    if (!handler) return;
    while (topic.running.size < topic.concurrency && topic.ready.length > 0) {
      const job = topic.ready.shift() as InboxJob;
      const run: Promise<void> = handler(job)
        .catch(() => {})
        .finally(() => {
          topic.running.delete(run);
          pump(topic);
        });
      topic.running.add(run);
    }
  };

  return {
    async send(name, jobs, sendOptions = {}) {
      const topic = topicOf(name);
      const delay = sendOptions.startAfter ? sendOptions.startAfter.getTime() - clock() : 0;
      if (delay > 0) {
        const timer = setTimeout(() => {
          topic.timers.delete(timer);
          topic.ready.push(...jobs);
          pump(topic);
        }, delay);
        (timer as { unref?: () => void }).unref?.();
        topic.timers.add(timer);
        return;
      }
      topic.ready.push(...jobs);
      pump(topic);
    },
    async work(name, handler, workOptions) {
      const topic = topicOf(name);
      if (topic.handler) {
        throw new InboxError('inProcessQueue', 'invalid_options', `topic ${name} already has a worker`);
      }
      topic.handler = handler;
      topic.concurrency = workOptions.concurrency;
      pump(topic);
      return {
        async stop() {
          delete topic.handler;
          for (const timer of topic.timers) clearTimeout(timer);
          topic.timers.clear();
          topic.ready.length = 0;
          await Promise.allSettled([...topic.running]);
        },
      };
    },
  };
}

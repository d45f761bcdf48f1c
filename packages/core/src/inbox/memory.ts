import { memoryIdempotencyStore } from '../idempotency/memory-store';
import { createInbox, type Inbox, type InboxOptions } from './inbox';
import { memoryInboxDriver } from './memory-driver';

/**
 * An inbox held in memory, for tests and throwaway use: same behaviour as
 * `sqlInbox`, but nothing survives the process or is shared between processes.
 *
 * @example
 * ```ts
 * const inbox = memoryInbox();
 * ```
 */
export function memoryInbox(options: InboxOptions = {}): Inbox {
  return createInbox(memoryInboxDriver(), {
    ...options,
    idempotencyStore: options.idempotencyStore ?? memoryIdempotencyStore(),
  });
}

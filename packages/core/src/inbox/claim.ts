/**
 * Claiming due events with a lease: the first step of processing. Each claim
 * gets a fresh owner token, the fence that settling checks.
 */
import type { Inbox } from './inbox';
import type { ClaimedInboxEvent } from './types';

/** Claims up to `limit` due events of the source (or only event `id`), leased for `leaseMs`. */
export type Claimer = (id: string | undefined, limit: number) => Promise<ClaimedInboxEvent[]>;

/** Builds the claimer of one worker: `<workerId>:<n>` owner tokens, times from the inbox's clock. */
export function eventClaimer(inbox: Inbox, source: string, leaseMs: number): Claimer {
  const workerId = globalThis.crypto.randomUUID();
  let claims = 0;
  return (id, limit) => {
    const at = inbox.now();
    return inbox.driver.claim({
      source,
      ...(id === undefined ? {} : { id }),
      owner: `${workerId}:${++claims}`,
      now: new Date(at),
      leaseUntil: new Date(at + leaseMs),
      limit,
    });
  };
}

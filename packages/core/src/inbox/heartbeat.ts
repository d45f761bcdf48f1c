/**
 * The lease heartbeat of one running event: every `intervalMs` it extends the
 * event's lease (and, once attached, its idempotency key's) through the
 * executor it was started on. The worker starts one on the inbox's own
 * connections and, in transactional mode, stops it before the transaction
 * opens and starts another that beats through the transaction: a beat never
 * needs a connection that an open transaction holds.
 */
import { InboxError } from './errors';
import type { ClaimedInboxEvent, InboxDriver } from './types';

/** A running heartbeat. */
export interface Heartbeat {
  /** Adds the idempotency key's lease to what each beat extends (through the executor the key's store uses). */
  attach(extendKey: (ms: number) => Promise<number>): void;
  /** Stops beating; resolves once no beat is in flight. Safe to call again. */
  stop(): Promise<void>;
}

/** What a heartbeat extends, and where it reports. */
export interface HeartbeatOptions {
  /** The event whose lease it keeps. */
  event: ClaimedInboxEvent;
  /** The driver the beats go through: the inbox's, or one bound to the handler's transaction. */
  driver: InboxDriver;
  /** The lease each beat renews, in milliseconds; beats come every third of it. */
  leaseMs: number;
  /** The inbox's clock. */
  now: () => number;
  /** Receives beat failures and a lost lease. */
  report: (error: unknown) => void;
  /** `false`: no beats at all (the `heartbeat: false` option). */
  enabled: boolean;
}

/** Starts beating every `leaseMs / 3` until stopped, or until the lease is lost. */
export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { event, driver, leaseMs, now, report } = options;
  let extendKey: ((ms: number) => Promise<number>) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let beating: Promise<void> | undefined;
  let stopped = !options.enabled;

  const beat = async () => {
    const at = now();
    const held = await driver.extend(event, event.leaseOwner, new Date(at + leaseMs), new Date(at));
    if (!held) {
      stopped = true;
      report(new InboxError('worker', 'stopped', `lost the lease on ${event.source}/${event.id} while it ran`));
      return;
    }
    await extendKey?.(leaseMs);
  };
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      beating = beat().then(next, (error: unknown) => {
        report(error);
        next();
      });
    }, leaseMs / 3);
    (timer as { unref?: () => void }).unref?.();
  };
  next();
  return {
    attach(extend) {
      extendKey = extend;
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await beating;
    },
  };
}

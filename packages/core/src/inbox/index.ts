/**
 * `@ballast/core/inbox`: the durable webhook inbox. Verify a delivery, store it
 * once per `(source, event id)` with group commit, answer 200 only after the
 * commit, and process it off the request path with leases, idempotent runs,
 * retries with backoff and a dead-letter state.
 *
 * Store drivers live with the other drivers: `sqlInbox` in
 * `@ballast/core/stores/sql`, `memoryInbox` in `@ballast/core/stores/memory`.
 * The per-object version guard for out-of-order delivery is `versionGuard`
 * in `@ballast/core/idempotency`.
 */

export type {
  FastifyAdapterOptions,
  FastifyAppLike,
  FastifyReplyLike,
  FastifyRequestLike,
  HonoContextLike,
} from './adapters';
export { toExpress, toFastify, toHono, toNextRoute, toNodeHandler } from './adapters';
export type { DrainInboxOptions } from './drain';
export { drainInbox } from './drain';
export type { InboxErrorCode } from './errors';
export { InboxError, isInboxError } from './errors';
export type { GroupCommitOptions } from './group-commit';
export { GROUP_COMMIT_DEFAULTS } from './group-commit';
export type {
  DeliveryInput,
  DeliveryResponse,
  DeliveryVerifier,
  WebhookDelivery,
  WebhookHandler,
  WebhookHandlerOptions,
} from './handler';
export { createWebhookHandler } from './handler';
export type {
  InboxEventHandler,
  InboxEventMap,
  InboxHandlerContext,
  InboxHandlerEvent,
  InboxHandlers,
  InboxPayloadSchema,
  InboxSchemas,
  SchemaEventMap,
  TransactionalInboxHandlerContext,
} from './handlers';
export { isPermanentFailure, permanentFailure } from './handlers';
export type {
  Inbox,
  InboxListener,
  InboxOptions,
  IngestableEvent,
  IngestOptions,
  IngestResult,
  PurgeOptions,
  ReplayFilter,
  ReplayTarget,
} from './inbox';
export { createInbox } from './inbox';
export { memoryInboxDriver } from './memory-driver';
export type { PgBossLike, PgBossQueueOptions } from './pg-boss-queue';
export { pgBossQueue } from './pg-boss-queue';
export type {
  InboxJob,
  InboxQueue,
  InProcessQueueOptions,
  QueueSendOptions,
  QueueSubscription,
  QueueWorkOptions,
} from './queue';
export { inProcessQueue } from './queue';
export type { SqlInboxDriverOptions } from './sql-driver';
export { sqlInboxDriver } from './sql-driver';
export type {
  ClaimedInboxEvent,
  ClaimRequest,
  InboxAttempt,
  InboxCounts,
  InboxDriver,
  InboxEvent,
  InboxEventKey,
  InboxFilter,
  InboxListOptions,
  InboxMetric,
  InboxMetricListener,
  InboxPage,
  InboxStatus,
  InsertOptions,
  NewInboxEvent,
  PurgeRequest,
  Settlement,
} from './types';
export { INBOX_STATUSES } from './types';
export type {
  DrainOptions,
  DrainResult,
  InboxIdempotencyOptions,
  InboxRetryOptions,
  InboxUnhandledPolicy,
  InboxWorker,
  InboxWorkerOptions,
  SchemaInboxWorkerOptions,
  TransactionalInboxWorkerOptions,
} from './worker';
export { backoffDelay, createInboxWorker } from './worker';

/**
 * `@ballast/pipedrive`: Pipedrive presets built on `@ballast/core`: an API
 * client (API token or OAuth, v2 entities, cursor and offset pagination,
 * typed errors, the burst window, the search bucket, the ban and the daily
 * token budget), Pipedrive's published limits, the Basic-auth webhook
 * endpoint with typed v2/v1 events and an out-of-order guard. The fake
 * Pipedrive for tests is `@ballast/pipedrive/testing`.
 *
 * Left out on purpose: the limiter composition, the token source and the
 * page walkers' internals (reached through the client).
 */

export type {
  PipedriveApiTokenAuth,
  PipedriveAuthOptions,
  PipedriveCredential,
  PipedriveOAuthAuth,
  PipedriveOAuthTokens,
} from './auth';
export type { DailyBudgetSnapshot } from './budget';
export type { PipedriveBulkBody, PipedriveBulkEntity, PipedriveBulkOptions } from './bulk';
export { bulkUpsertDeals, bulkUpsertOrganizations, bulkUpsertPersons, pipedriveBulkTarget } from './bulk';
export type {
  PipedriveCallOptions,
  PipedriveClient,
  PipedriveClientEvent,
  PipedriveClientOptions,
  PipedriveClientSignal,
  PipedriveListParams,
  PipedriveMethod,
  PipedriveRedisClient,
  PipedriveResource,
  PipedriveSearchableResource,
  PipedriveSearchOptions,
  PipedriveSearchResult,
  PipedriveUniqueKey,
  PipedriveUpsertResult,
} from './client';
export { pipedriveClient } from './client';
export type { ContactPerson, ContactRow, ContactsMapperOptions } from './contacts';
export { contactPersonSchema, contactsMapper, contactsTableSql, personToContact } from './contacts';
export type { PipedriveErrorContext, PipedriveErrorKind, PipedriveUsageErrorCode } from './errors';
export {
  isPipedriveError,
  isPipedriveUsageError,
  PipedriveError,
  PipedriveUsageError,
  pipedriveErrorFromResponse,
} from './errors';
export type {
  PipedriveEventType,
  PipedriveTypedEntity,
  PipedriveV1Event,
  PipedriveV2Event,
  PipedriveWebhookAction,
  PipedriveWebhookDeal,
  PipedriveWebhookEvent,
  PipedriveWebhookObject,
  PipedriveWebhookObjects,
  PipedriveWebhookOrganization,
  PipedriveWebhookPerson,
} from './events';
export {
  parsePipedriveEvent,
  pipedriveEventType,
  webhookDealSchema,
  webhookOrganizationSchema,
  webhookPersonSchema,
} from './events';
export type { PipedriveAuth, PipedriveCostTable, PipedriveOperation, PipedrivePlan } from './limits';
export {
  PIPEDRIVE_DAILY_TOKENS_PER_SEAT,
  PIPEDRIVE_V1_COSTS,
  PIPEDRIVE_V2_COSTS,
  pipedriveBurstLimit,
  pipedriveDailyBudget,
} from './limits';
export type { PipedriveEnvelope, PipedrivePage, PipedriveQuery } from './pagination';
export { MAX_PAGE_LIMIT } from './pagination';
export type {
  PipedriveActivity,
  PipedriveDeal,
  PipedriveOrganization,
  PipedrivePerson,
  PipedriveProduct,
} from './schemas';
export {
  activitySchema,
  contactValueSchema,
  customFieldsSchema,
  dealSchema,
  organizationSchema,
  personSchema,
  productSchema,
} from './schemas';
export type {
  PipedriveSync,
  PipedriveSyncClient,
  PipedriveSyncEntity,
  PipedriveSyncListParams,
  PipedriveSyncOptions,
  PipedriveSyncPage,
  PipedriveSyncRecord,
} from './sync';
export { PIPEDRIVE_SYNC_ENTITIES, pipedriveSync, pipedriveTime } from './sync';
export type { PipedriveWebhookErrorCode } from './webhook-errors';
export { isPipedriveWebhookError, PipedriveWebhookError } from './webhook-errors';
export type {
  PipedriveWebhookRegistration,
  PipedriveWebhookRegistrationOptions,
  PipedriveWebhookRegistrationResult,
  PipedriveWebhooksApi,
} from './webhook-registration';
export {
  pipedriveWebhookCredentials,
  registerPipedriveWebhook,
  removePipedriveWebhook,
  rotatePipedriveWebhook,
} from './webhook-registration';
export type {
  PipedriveEventHandler,
  PipedriveEventHandlersOptions,
  PipedriveHandlerContext,
  PipedriveWebhookHandlers,
  PipedriveWebhooksOptions,
} from './webhooks';
export { pipedriveEventHandlers, pipedriveWebhooks } from './webhooks';

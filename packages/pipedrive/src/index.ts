/**
 * `@ballast/pipedrive`: Pipedrive presets built on `@ballast/core`: Pipedrive's
 * burst limits, the Basic-auth webhook endpoint with typed v2/v1 events and an
 * out-of-order guard, webhook registration with credentials kept in the
 * vault, and a sync of persons, organizations and deals into sync tables.
 */

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
export type { PipedriveAuth, PipedrivePlan } from './limits';
export { pipedriveBurstLimit } from './limits';
export type { PipedriveWebhookErrorCode } from './webhook-errors';
export { isPipedriveWebhookError, PipedriveWebhookError } from './webhook-errors';
export type {
  PipedriveEventHandler,
  PipedriveEventHandlersOptions,
  PipedriveHandlerContext,
  PipedriveWebhookHandlers,
  PipedriveWebhooksOptions,
} from './webhooks';
export { pipedriveEventHandlers, pipedriveWebhooks } from './webhooks';

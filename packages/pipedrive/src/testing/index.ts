/**
 * `@ballast/pipedrive/testing`: a fake Pipedrive for tests. It answers the
 * API (through `fetch`, msw or a local server) with Pipedrive's envelopes,
 * cursor and offset pagination, auth, burst windows, the 403 ban and the
 * daily budget, and delivers webhooks with Basic auth, Pipedrive's retry
 * schedule and endpoint bans.
 *
 * The msw handlers live in `@ballast/pipedrive/testing/msw`, so that this
 * entry's types do not name msw (an optional peer).
 */

export type {
  FakeCustomFieldInput,
  FakeOAuthOptions,
  FakeOAuthTokens,
  FakePipedrive,
  FakePipedriveFault,
  FakePipedriveFaultOptions,
  FakePipedriveOptions,
  FakePipedriveRequest,
  FakePipedriveServer,
  FakePipedriveStats,
} from './fake-pipedrive';
export { createFakePipedrive, FAKE_PIPEDRIVE_API_TOKEN, FakePipedriveUsageError } from './fake-pipedrive';
export type { FakeCustomField, FakeEntity, Json, JsonObject } from './records';
export type { FakeWebhookDelivery, FakeWebhookOptions, FakeWebhookRegistration } from './webhooks';
